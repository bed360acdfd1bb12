/**
 * The intent of the MIT 6.5840 key/value service lab tests (kvraft, lab 4A/4B), on the
 * deterministic SimCluster: concurrent clients (put, cas, ReadIndex get) under an unreliable
 * network, partitions, crash-restarts of every server and snapshots, with every history checked
 * by the linearizability checker. The lab checks per-client append sequences; here the whole
 * history must be linearizable, which is stronger.
 *
 * Adaptations (all deliberate):
 * - Clients are `KvClients` (test/support): each sends one operation at a time to some node
 *   (usually the leader) and records it; writes with an unknown outcome are recorded as such.
 *   There is no duplicate detection, so clients never retry a write with an unknown outcome.
 * - The lab's 5 s iterations are 3 s of simulated time (three iterations per test).
 * Replay a failing test with `SEED=<n>`; the seed is in every error message.
 */
import { describe, expect, it } from 'vitest';
import { RaftError } from '../src/errors.js';
import { checkOperations } from '../src/testing/linearizability/checker.js';
import {
  type KvInput,
  type KvOperation,
  kvModel,
} from '../src/testing/linearizability/kv-model.js';
import { Rng } from '../src/testing/rng.js';
import { encodeKvCommand, SimCluster, type SimClusterOptions } from '../src/testing/sim-cluster.js';
import type { NodeId } from '../src/types.js';
import { KvClients } from './support/kv-clients.js';
import { withCluster } from './support/sim-helpers.js';

const SEED = Number(process.env.SEED ?? 6_5840_4);
const ELECTION_TIMEOUT = 1000;
const KEYS = ['a', 'b', 'c'] as const;
const UNRELIABLE = {
  dropRate: 0.1,
  duplicateRate: 0.02,
  minDelayMs: 0,
  maxDelayMs: 27,
  reorderRate: 0.05,
  reorderDelayMs: 200,
} as const;
const RELIABLE = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 5, reorderRate: 0 };

async function make(salt: number, extra: Partial<SimClusterOptions> = {}): Promise<SimCluster> {
  return SimCluster.create({ seed: SEED + salt, nodes: 5, ...extra });
}

/** The history is linearizable, and the checker decided it (did not give up). */
function expectLinearizable(kv: KvClients): void {
  const r = kv.check();
  expect(r.ok, r.ok ? '' : r.message).toBe(true);
  const verdict = checkOperations(kvModel, kv.history, { maxSteps: 2_000_000 });
  expect(verdict.result, 'linearizability check undecided or failed').toBe('ok');
}

/** Heals everything, restarts dead servers, and waits until every server agrees. */
async function healAndAgree(c: SimCluster): Promise<void> {
  c.heal();
  c.setNetwork(RELIABLE);
  for (const id of c.ids) if (!c.isAlive(id)) await c.restart(id);
  await c.one(encodeKvCommand({ op: 'put', key: 'final', value: 'x' }), c.ids.length, true);
  const leader = await c.waitForLeader();
  const commit = c.node(leader)._raw.raft.log.committed;
  expect(await c.runUntil(() => c.ids.every((id) => c.appliedIndex(id) >= commit), 3000)).toBe(
    true,
  );
  for (const k of KEYS) {
    const values = new Set(c.ids.map((id) => c.localValue(id, k)));
    expect(values.size, `servers disagree on ${k}: ${[...values].join(', ')}`).toBe(1);
  }
}

interface GenericOptions {
  readonly clients: number;
  readonly unreliable: boolean;
  readonly crash: boolean;
  readonly partitions: boolean;
  /** Minimum number of operations the clients must have completed. */
  readonly minOps: number;
}

/** The lab's GenericTest: clients run while faults are injected, three iterations. */
async function genericTest(c: SimCluster, o: GenericOptions): Promise<KvClients> {
  const rng = new Rng(c.seed);
  if (o.unreliable) c.setNetwork(UNRELIABLE);
  const kv = new KvClients(c, rng.fork(), { clients: o.clients, keys: KEYS, thinkMs: [1, 20] });
  await c.waitForLeader();
  kv.start();
  for (let iter = 0; iter < 3; iter++) {
    let partitioning = o.partitions;
    if (o.partitions) {
      // The lab's partitioner: a random split every election timeout (plus up to 200 ms).
      const partitioner = (): void => {
        if (!partitioning) return;
        const groups: NodeId[][] = [[], []];
        for (const id of c.ids) groups[rng.int(0, 1)]?.push(id);
        c.heal();
        c.partition(groups[0] ?? [], groups[1] ?? []);
        c.schedule(ELECTION_TIMEOUT + rng.int(0, 200), partitioner);
      };
      c.schedule(rng.int(0, 100), partitioner);
    }
    await c.run(3000);
    if (o.partitions) {
      partitioning = false;
      c.heal();
      await c.run(ELECTION_TIMEOUT);
    }
    if (o.crash) {
      // Crash every server, then bring them all back from their storage.
      for (const id of c.ids) c.crash(id);
      await c.run(rng.int(0, 100));
      for (const id of c.ids) await c.restart(id);
    }
  }
  kv.stop();
  await healAndAgree(c);
  await c.run(2000);
  expectLinearizable(kv);
  const answered = kv.history.filter((op) => op.return !== Number.POSITIVE_INFINITY);
  expect(answered.length, 'too few operations completed').toBeGreaterThanOrEqual(o.minOps);
  expect(answered.filter((op) => op.input.op === 'get').length).toBeGreaterThan(o.minOps / 4);
  return kv;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * A lab-style clerk for the scripted OnePartition test: retries an operation (at the leader
 * among `targets()` when there is one) until it succeeds, and records it in `history`.
 */
class Clerk {
  done = false;
  constructor(
    private readonly c: SimCluster,
    private readonly rng: Rng,
    readonly clientId: number,
    readonly history: KvOperation[],
    public targets: readonly NodeId[],
  ) {}

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.c.schedule(ms, resolve));
  }

  private target(): NodeId {
    const live = this.targets.filter((id) => this.c.isAlive(id));
    return this.c.leader(live) ?? this.rng.pick(live);
  }

  async put(key: string, value: string): Promise<void> {
    this.done = false;
    const input: KvInput = { op: 'put', key, value };
    const call = this.c.now;
    for (;;) {
      const r = await this.c.propose(this.target(), encodeKvCommand({ op: 'put', key, value }));
      if (r.ok) {
        this.history.push({
          clientId: this.clientId,
          input,
          output: 'ok',
          call,
          return: this.c.now,
        });
        this.done = true;
        return;
      }
      const code = RaftError.isInstance(r.error) ? r.error.code : 'unknown';
      // Without duplicate detection, only a write that definitely failed may be retried.
      if (!['NotLeader', 'ProposalDropped', 'LeadershipTransferInProgress'].includes(code)) {
        this.history.push({
          clientId: this.clientId,
          input,
          output: undefined,
          call,
          return: Infinity,
        });
        throw new Error(`put(${key}, ${value}) has an unknown outcome: ${String(r.error)}`);
      }
      await this.sleep(50);
    }
  }

  async get(key: string): Promise<string | null> {
    this.done = false;
    const call = this.c.now;
    for (;;) {
      const r = await this.c.get(this.target(), key);
      if (r.ok) {
        const input: KvInput = { op: 'get', key };
        this.history.push({
          clientId: this.clientId,
          input,
          output: r.value,
          call,
          return: this.c.now,
        });
        this.done = true;
        return r.value;
      }
      await this.sleep(50);
    }
  }
}

/** Runs the simulation until `p` settles (at most `ms` of simulated time). */
async function settle<T>(c: SimCluster, p: Promise<T>, ms = 10_000): Promise<T> {
  let out: Settled<T> | null = null;
  p.then(
    (value) => {
      out = { ok: true, value };
    },
    (error: unknown) => {
      out = { ok: false, error };
    },
  );
  await c.runUntil(() => out !== null, ms);
  const r = out as Settled<T> | null;
  if (r === null) throw new Error(`operation did not complete within ${ms} ms`);
  if (!r.ok) throw r.error;
  return r.value;
}

describe('MIT 6.5840 KV lab (4A): linearizable key/value service', () => {
  // The lab's GenericTest variants: name, seed salt, then the options.
  const GENERIC: [string, number, GenericOptions][] = [
    ['Basic', 1, { clients: 1, unreliable: false, crash: false, partitions: false, minOps: 200 }],
    [
      'Concurrent',
      2,
      { clients: 5, unreliable: false, crash: false, partitions: false, minOps: 1000 },
    ],
    [
      'Unreliable',
      3,
      { clients: 5, unreliable: true, crash: false, partitions: false, minOps: 300 },
    ],
    [
      'ManyPartitionsOneClient',
      5,
      { clients: 1, unreliable: false, crash: false, partitions: true, minOps: 200 },
    ],
    [
      'ManyPartitionsManyClients',
      6,
      { clients: 5, unreliable: false, crash: false, partitions: true, minOps: 800 },
    ],
    [
      'PersistOneClient',
      7,
      { clients: 1, unreliable: false, crash: true, partitions: false, minOps: 200 },
    ],
    [
      'PersistConcurrent',
      8,
      { clients: 5, unreliable: false, crash: true, partitions: false, minOps: 900 },
    ],
    [
      'PersistPartition',
      9,
      { clients: 5, unreliable: false, crash: true, partitions: true, minOps: 900 },
    ],
    [
      'PersistPartitionUnreliable',
      10,
      { clients: 5, unreliable: true, crash: true, partitions: true, minOps: 250 },
    ],
  ];
  for (const [name, salt, options] of GENERIC) {
    it(name, async () => {
      await withCluster(await make(salt), (c) => genericTest(c, options).then(() => {}));
    });
  }

  it('OnePartition', async () => {
    await withCluster(await make(4), async (c) => {
      const rng = new Rng(c.seed);
      const history: KvOperation[] = [];
      const ck = new Clerk(c, rng.fork(), 0, history, c.ids);
      await settle(c, ck.put('1', '13'));
      // The lab's make_partition: the leader ends up in the minority.
      const leader = await c.waitForLeader();
      const rest = c.ids.filter((id) => id !== leader);
      const p1 = rest.slice(0, 3);
      const p2 = [...rest.slice(3), leader];
      c.partition(p1, p2);
      const ckp1 = new Clerk(c, rng.fork(), 1, history, p1);
      const ckp2a = new Clerk(c, rng.fork(), 2, history, p2);
      const ckp2b = new Clerk(c, rng.fork(), 3, history, p2);

      // Progress in the majority.
      await settle(c, ckp1.put('1', '14'));
      expect(await settle(c, ckp1.get('1'))).toBe('14');

      // No progress in the minority, for writes or reads.
      const p2Put = ckp2a.put('1', '15');
      const p2Get = ckp2b.get('1');
      await c.run(1000);
      expect(ckp2a.done, 'Put in minority completed').toBe(false);
      expect(ckp2b.done, 'Get in minority completed').toBe(false);
      expect(await settle(c, ckp1.get('1'))).toBe('14');
      await settle(c, ckp1.put('1', '16'));
      expect(await settle(c, ckp1.get('1'))).toBe('16');
      expect(ckp2a.done || ckp2b.done).toBe(false);

      // Completion after heal.
      c.heal();
      ckp2a.targets = c.ids;
      ckp2b.targets = c.ids;
      await c.run(ELECTION_TIMEOUT);
      await settle(c, p2Put, 3000);
      await settle(c, p2Get, 3000);
      expect(await settle(c, ck.get('1'))).toBe('15');
      expect(checkOperations(kvModel, history).result).toBe('ok');
      expect(history.length).toBe(9);
    });
  });
});

describe('MIT 6.5840 KV lab (4B): with snapshots', () => {
  const SNAPSHOTS = {
    snapshotEntries: 10,
    snapshotKeepEntries: 5,
    snapshotChunkSize: 128,
  } as const;

  /** Every server compacted its log, and no log grew far beyond the snapshot interval. */
  function expectCompacted(c: SimCluster): void {
    for (const id of c.ids) {
      const log = c.node(id)._raw.raft.log;
      expect(log.snapshotIndex(), `${id} never took a snapshot`).toBeGreaterThan(0);
      expect(log.lastIndex() - log.snapshotIndex(), `${id}: log too large`).toBeLessThanOrEqual(40);
    }
  }

  it('SnapshotRecover', async () => {
    await withCluster(await make(11, SNAPSHOTS), async (c) => {
      await genericTest(c, {
        clients: 1,
        unreliable: false,
        crash: true,
        partitions: false,
        minOps: 200,
      });
      expectCompacted(c);
    });
  });

  it('SnapshotUnreliableRecoverConcurrentPartition', async () => {
    await withCluster(await make(12, SNAPSHOTS), async (c) => {
      await genericTest(c, {
        clients: 5,
        unreliable: true,
        crash: true,
        partitions: true,
        minOps: 200,
      });
      expectCompacted(c);
      expect(c.stats.byType.MsgSnap ?? 0, 'no InstallSnapshot was exercised').toBeGreaterThan(0);
    });
  });
});

describe('the checker in this setup', () => {
  it('catches a stale read served from an isolated old leader', async () => {
    await withCluster(await make(21), async (c) => {
      const rng = new Rng(c.seed);
      const kv = new KvClients(c, rng.fork(), { clients: 3, keys: KEYS, thinkMs: [1, 20] });
      await c.waitForLeader();
      kv.start();
      await c.run(1000);
      kv.stop();
      await c.run(2000);

      // put(z, before) completes everywhere.
      const old = await c.waitForLeader();
      let call = c.now;
      const w1 = await settle(
        c,
        c.propose(old, encodeKvCommand({ op: 'put', key: 'z', value: 'before' })),
      );
      expect(w1.ok).toBe(true);
      kv.history.push({
        clientId: 90,
        input: { op: 'put', key: 'z', value: 'before' },
        output: 'ok',
        call,
        return: c.now,
      });
      await c.runUntil(() => c.ids.every((id) => c.localValue(id, 'z') === 'before'), 1000);

      // The leader is cut off; the majority elects another and overwrites z.
      c.disconnect(old);
      const next = await c.waitForLeader(c.ids.filter((id) => id !== old));
      call = c.now;
      const w2 = await settle(
        c,
        c.propose(next, encodeKvCommand({ op: 'put', key: 'z', value: 'after' })),
      );
      expect(w2.ok).toBe(true);
      kv.history.push({
        clientId: 91,
        input: { op: 'put', key: 'z', value: 'after' },
        output: 'ok',
        call,
        return: c.now,
      });
      const baseline = kv.check();
      expect(baseline.ok, baseline.ok ? '' : baseline.message).toBe(true);

      // A broken read path would answer from the old leader's local state.
      await c.run(10);
      const stale = c.localValue(old, 'z');
      expect(stale).toBe('before');
      kv.history.push({
        clientId: 92,
        input: { op: 'get', key: 'z' },
        output: stale,
        call: c.now,
        return: c.now,
      });
      const r = kv.check();
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toContain('get("z") → "before"');
    });
  });
});
