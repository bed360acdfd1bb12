/** RaftNode's input validation and error contract (bad input → typed RaftError, no crash). */
import { describe, expect, it } from 'vitest';
import { RaftError } from '../src/errors.js';
import { RaftNode } from '../src/node.js';
import { MemoryLogStorage } from '../src/testing/memory-log-storage.js';
import { MemoryNetwork } from '../src/testing/memory-transport.js';
import type { Entry } from '../src/types.js';

const sm = { apply: (e: Entry) => e.index, snapshot: () => new Uint8Array(), restore: () => {} };

async function solo(): Promise<RaftNode<number>> {
  const node = await RaftNode.start({
    id: 'a',
    bootstrap: ['a'],
    storage: new MemoryLogStorage(),
    transport: new MemoryNetwork().transport('a'),
    stateMachine: sm,
    tickMs: 10,
  });
  node.campaign();
  return node;
}

/** Nodes a, b, c on one memory network, each with memory storage. */
function trio(tickMs: number): Promise<RaftNode<number>[]> {
  const net = new MemoryNetwork();
  const ids = ['a', 'b', 'c'];
  return Promise.all(
    ids.map((id) =>
      RaftNode.start({
        id,
        bootstrap: ids,
        storage: new MemoryLogStorage(),
        transport: net.transport(id),
        stateMachine: sm,
        tickMs,
      }),
    ),
  );
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return RaftError.isInstance(e) ? e.code : `untyped: ${String(e)}`;
  }
}

describe('RaftNode input validation', () => {
  it('rejects bad options with InvalidArgument', async () => {
    const base = {
      id: 'a',
      storage: new MemoryLogStorage(),
      transport: new MemoryNetwork().transport('a'),
      stateMachine: sm,
    };
    expect(await codeOf(RaftNode.start({ ...base, tickMs: 0 }))).toBe('InvalidArgument');
    expect(await codeOf(RaftNode.start({ ...base, electionTick: 1, heartbeatTick: 1 }))).toBe(
      'InvalidArgument',
    );
    expect(await codeOf(RaftNode.start({ ...base, bootstrap: ['b'] }))).toBe('InvalidArgument');
    expect(await codeOf(RaftNode.start({ ...base, readOnly: 'lease', checkQuorum: false }))).toBe(
      'InvalidArgument',
    );
  });

  it('rejects bad proposals and membership changes with typed errors', async () => {
    const node = await solo();
    try {
      expect(await codeOf(node.propose('text' as unknown as Uint8Array))).toBe('InvalidArgument');
      expect(await codeOf(node.changeMembership({} as never))).toBe('InvalidArgument');
      expect(await codeOf(node.removeNode('a'))).toBe('InvalidArgument'); // the last voter
      expect(await codeOf(node.transferLeadership('zz'))).toBe('InvalidArgument');
      expect(await codeOf(node.propose(Uint8Array.of(1)))).toBe('resolved');
    } finally {
      await node.stop();
    }
    expect(await codeOf(node.propose(Uint8Array.of(1)))).toBe('Stopped');
    expect(await codeOf(node.read())).toBe('Stopped');
  });

  it('a follower rejects proposals with NotLeader and a leader hint', async () => {
    const nodes = await trio(50);
    try {
      (nodes[0] as RaftNode<number>).campaign();
      for (let i = 0; i < 500 && (nodes[0] as RaftNode<number>).status().role !== 'leader'; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await (nodes[0] as RaftNode<number>).propose(Uint8Array.of(1)); // a leads; b, c know it once committed
      for (let i = 0; i < 200 && (nodes[1] as RaftNode<number>).leader !== 'a'; i++)
        await new Promise((r) => setTimeout(r, 10));
      const err = await (nodes[1] as RaftNode<number>)
        .propose(Uint8Array.of(2))
        .catch((e: unknown) => e);
      expect(RaftError.isInstance(err) && err.code).toBe('NotLeader');
      expect((err as { leaderHint: string }).leaderHint).toBe('a');
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});

describe('progress()', () => {
  it("is the leader's view of each other member, and empty on a follower", async () => {
    const nodes = await trio(20);
    const [a, b] = nodes as [RaftNode<number>, RaftNode<number>];
    try {
      a.campaign();
      for (let i = 0; i < 500 && a.status().role !== 'leader'; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const index = await a.propose(Uint8Array.of(1));
      let view = a.progress();
      for (let i = 0; i < 200 && view.some((p) => p.match < index); i++) {
        await new Promise((r) => setTimeout(r, 10));
        view = a.progress();
      }
      expect(view.map((p) => p.id)).toEqual(['b', 'c']);
      for (const p of view) {
        expect(p).toMatchObject({ match: index, next: index + 1, learner: false, reachable: true });
        expect(p.state).toBe('replicate');
        expect(p.inflight).toBeGreaterThanOrEqual(0);
      }
      expect(b.progress()).toEqual([]);
      expect(a.status().snapshotIndex).toBe(0);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});

describe('snapshot policy', () => {
  it('snapshots by entry count and by applied payload bytes, whichever comes first', async () => {
    const storage = new MemoryLogStorage();
    const node = await RaftNode.start({
      id: 'a',
      bootstrap: ['a'],
      storage,
      transport: new MemoryNetwork().transport('a'),
      stateMachine: sm,
      tickMs: 10,
      snapshotEntries: 1000,
      snapshotBytes: 10_000,
    });
    try {
      node.campaign();
      for (let i = 0; i < 9; i++) await node.propose(new Uint8Array(1000));
      expect(await storage.snapshot()).toBeNull(); // 9,000 bytes, 11 entries: neither limit yet
      await node.propose(new Uint8Array(1000)); // 10,000 bytes
      // The snapshot is taken right after this entry's Ready completes.
      for (let i = 0; i < 100 && (await storage.snapshot()) === null; i++)
        await new Promise((r) => setTimeout(r, 10));
      const snap = await storage.snapshot();
      expect(snap?.meta.index).toBe(node.status().appliedIndex);
      expect(node.status().snapshotIndex).toBe(snap?.meta.index);
      expect((await storage.initialState()).firstIndex).toBe((snap?.meta.index ?? 0) + 1);
    } finally {
      await node.stop();
    }
  });
});

describe('stop()', () => {
  it('settles every in-flight proposal and read, and stops ticking', async () => {
    const node = await solo();
    await node.propose(Uint8Array.of(0));
    const proposals = Array.from({ length: 100 }, (_, i) => node.propose(Uint8Array.of(i)));
    const reads = Array.from({ length: 10 }, () => node.read());
    const stopping = node.stop();
    const settled = await Promise.allSettled([...proposals, ...reads]);
    await stopping;
    for (const s of settled) {
      if (s.status === 'rejected')
        expect(RaftError.isInstance(s.reason) && s.reason.code).toBe('Stopped');
    }
    const status = node.status();
    expect(status.stopped).toBe(true);
    // Nothing happens after stop: no more ticks, applies or messages.
    await new Promise((r) => setTimeout(r, 50));
    expect(node.status()).toEqual(status);
    await node.stop(); // idempotent
  });
});
