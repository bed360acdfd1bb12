/**
 * A custom state machine with snapshots: a replicated FIFO job queue. The leader snapshots every
 * 10 entries and compacts its log, so a node added later cannot replay the log from the start:
 * it catches up from the leader's snapshot (restore()) plus the entries after it.
 */
import { type Entry, RaftNode, type StateMachine } from 'raft-core';
import { MemoryLogStorage, MemoryNetwork } from 'raft-core/testing';

type Command = { op: 'push'; job: string } | { op: 'pop' };

/** A FIFO queue; `apply` returns the popped job (or null), snapshots hold the whole queue. */
export class JobQueue implements StateMachine<string | null> {
  jobs: string[] = [];
  restored = 0;
  apply(entry: Entry): string | null {
    if (entry.type !== 0 || entry.data.length === 0) return null; // no-ops, membership changes
    const cmd = JSON.parse(new TextDecoder().decode(entry.data)) as Command;
    if (cmd.op === 'push') this.jobs.push(cmd.job);
    return cmd.op === 'pop' ? (this.jobs.shift() ?? null) : null;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.jobs)); // a copy: later applies can't touch it
  }
  restore(bytes: Uint8Array): void {
    this.jobs = JSON.parse(new TextDecoder().decode(bytes)) as string[];
    this.restored++;
  }
}

const encode = (cmd: Command): Uint8Array => new TextEncoder().encode(JSON.stringify(cmd));

export async function main(log: (line: string) => void = console.log): Promise<JobQueue> {
  const network = new MemoryNetwork();
  const start = (id: string, queue: JobQueue, bootstrap?: string[]) =>
    RaftNode.start({
      id,
      ...(bootstrap === undefined ? {} : { bootstrap }),
      storage: new MemoryLogStorage(),
      transport: network.transport(id),
      stateMachine: queue,
      tickMs: 10,
      snapshotEntries: 10, // snapshot every 10 applied entries...
      snapshotKeepEntries: 0, // ...and keep no log behind it (to force a snapshot transfer)
    });
  const ids = ['a', 'b', 'c'];
  const nodes = await Promise.all(ids.map((id) => start(id, new JobQueue(), ids)));
  const isLeader = (n: RaftNode<string | null>) => n.status().role === 'leader';
  while (!nodes.some(isLeader)) await new Promise((r) => setTimeout(r, 10));
  const leader = nodes.find(isLeader) as RaftNode<string | null>;

  for (let i = 1; i <= 30; i++) await leader.propose(encode({ op: 'push', job: `job-${i}` }));
  for (let i = 0; i < 3; i++) log(`popped ${await leader.propose(encode({ op: 'pop' }))}`);

  // A fourth node joins as a learner: the log before the snapshot is gone, so it gets the snapshot.
  const late = new JobQueue();
  const d = await start('d', late);
  nodes.push(d);
  await leader.addLearner('d');
  await leader.propose(encode({ op: 'push', job: 'job-31' }));
  await d.read(); // d has applied everything committed before this read
  log(
    `d restored ${late.restored} snapshot(s); queue head ${late.jobs[0]}, ${late.jobs.length} jobs`,
  );
  await Promise.all(nodes.map((n) => n.stop({ transferLeadership: false })));
  return late;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
