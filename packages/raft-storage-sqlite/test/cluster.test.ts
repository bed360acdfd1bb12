/**
 * A 3-node RaftNode cluster whose logs live in real SQLite files: replication, snapshots and
 * compaction on disk, a node stopped and restarted from its files (snapshot + log tail), and a
 * full-cluster restart that keeps every acknowledged write.
 */
import { join } from 'node:path';
import { type Entry, RaftNode, type StateMachine } from 'raft-core';
import { MemoryNetwork } from 'raft-core/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openOn, THREADS, type Thread } from './support/modes.js';
import { TempDirs } from './support/temp-dirs.js';

/** Sums the numbers it applies; snapshots are the sum and count as text. */
class Summer implements StateMachine<number> {
  sum = 0;
  count = 0;
  apply(e: Entry): number {
    if (e.type === 0 && e.data.length > 0) {
      this.sum += Number(new TextDecoder().decode(e.data));
      this.count++;
    }
    return this.sum;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(`${this.sum},${this.count}`);
  }
  restore(b: Uint8Array): void {
    const [s, c] = new TextDecoder().decode(b).split(',');
    this.sum = Number(s);
    this.count = Number(c);
  }
}

const ids = ['n1', 'n2', 'n3'];
/** Where the nodes' databases run (set per describe block below). */
let thread: Thread = 'main';
const dirs = new TempDirs();
const running: RaftNode<number>[] = [];
const staged: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop({ transferLeadership: false })));
  await dirs.removeAll();
});

async function start(
  dir: string,
  network: MemoryNetwork,
  id: string,
  sm: Summer,
): Promise<RaftNode<number>> {
  const storage = await openOn(thread, {
    path: join(dir, `${id}.db`),
    clusterId: 'test',
    nodeId: id,
  });
  // Record what the driver stages beside the write queue.
  const stage = storage.stageSnapshot.bind(storage);
  storage.stageSnapshot = (snap) => {
    staged.push(`${id}@${snap.meta.index}`);
    return stage(snap);
  };
  const node = await RaftNode.start({
    id,
    bootstrap: ids,
    storage,
    transport: network.transport(id),
    stateMachine: sm,
    tickMs: 50,
    snapshotEntries: 50,
    snapshotKeepEntries: 10,
  });
  running.push(node);
  return node;
}

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function proposeAt(nodes: RaftNode<number>[], value: number): Promise<number> {
  for (;;) {
    const leader = nodes.find((n) => n.status().role === 'leader' && !n.status().stopped);
    if (leader) {
      try {
        return await leader.propose(new TextEncoder().encode(String(value)));
      } catch {
        /* leadership changed: retry */
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Also with every database on a worker thread: the driver's saves, reads at restart and
// snapshot staging all go through the channel.
describe.each(THREADS)('3-node cluster on SQLite files (%s thread)', (t) => {
  beforeAll(() => {
    thread = t;
  });
  it('replicates, snapshots, and restarts nodes from their files', async () => {
    const dir = await dirs.make();
    const network = new MemoryNetwork();
    const sms = ids.map(() => new Summer());
    const nodes = await Promise.all(ids.map((id, i) => start(dir, network, id, sms[i] as Summer)));

    let expected = 0;
    for (let v = 1; v <= 120; v++) {
      await proposeAt(nodes, v);
      expected += v;
    }
    await until(() => sms.every((s) => s.sum === expected));

    // Stop a follower, keep writing (the leader compacts past it), restart it from its file:
    // it must catch up through InstallSnapshot + log tail.
    const fi = nodes.findIndex((n) => n.status().role !== 'leader');
    const follower = nodes[fi] as RaftNode<number>;
    await follower.stop({ transferLeadership: false });
    running.splice(running.indexOf(follower), 1);
    const live = nodes.filter((n) => n !== follower);
    for (let v = 121; v <= 250; v++) {
      await proposeAt(live, v);
      expected += v;
    }
    const restartedSm = new Summer();
    const restarted = await start(dir, network, ids[fi] as string, restartedSm);
    const installed: number[] = [];
    restarted.on('snapshot', (s) => {
      if (s.installed) installed.push(s.index);
    });
    nodes[fi] = restarted;
    await until(() => restartedSm.sum === expected);
    // It caught up through a snapshot from the leader, staged into a file like its own ones
    // (not written through the WAL inside the installing transaction).
    expect(installed.length).toBeGreaterThan(0);
    for (const i of installed) expect(staged).toContain(`${ids[fi]}@${i}`);
    expect(restartedSm.count).toBe(250);
    expect(restarted.status().lastIndex).toBeGreaterThan(250);

    // Restart the whole cluster from disk: every acknowledged write is still there.
    await Promise.all(running.splice(0).map((n) => n.stop({ transferLeadership: false })));
    const sms2 = ids.map(() => new Summer());
    const again = await Promise.all(ids.map((id, i) => start(dir, network, id, sms2[i] as Summer)));
    await proposeAt(again, 0); // a new leader commits, so everyone re-applies up to it
    await until(() => sms2.every((s) => s.sum === expected && s.count === 251));
  });
});
