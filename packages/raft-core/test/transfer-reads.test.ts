/**
 * Leadership transfer (thesis §3.10) and linearizable reads (ReadIndex and leases, thesis §6.4)
 * on the deterministic SimCluster with the real driver.
 *
 * Timings: 10 ms ticks, election timeouts of 30–60 ticks (300–600 ms), heartbeats every 100 ms.
 * Replay a failing test with `SEED=<n>`; the seed is in every error message.
 */
import { describe, expect, it } from 'vitest';
import { RaftError, type RaftErrorCode } from '../src/errors.js';
import { checkOperations } from '../src/testing/linearizability/checker.js';
import { type KvOperation, kvModel } from '../src/testing/linearizability/kv-model.js';
import { Rng } from '../src/testing/rng.js';
import { encodeKvCommand, SimCluster, type SimClusterOptions } from '../src/testing/sim-cluster.js';
import type { NodeId } from '../src/types.js';
import { KvClients } from './support/kv-clients.js';
import { msgs, raft, withCluster } from './support/sim-helpers.js';

const SEED = Number(process.env.SEED ?? 3_10);
/** The shortest possible election timeout: electionTick (30) × tickMs (10). */
const MIN_ELECTION_MS = 300;

async function make(salt: number, extra: Partial<SimClusterOptions> = {}): Promise<SimCluster> {
  return SimCluster.create({ seed: SEED + salt, nodes: 3, ...extra });
}

type Settled<T> = { ok: true; value: T; at: number } | { ok: false; error: unknown; at: number };

/** Tracks a promise's outcome and the simulated time it settled at. */
function track<T>(c: SimCluster, p: Promise<T>): { result: Settled<T> | null } {
  const box: { result: Settled<T> | null } = { result: null };
  p.then(
    (value) => {
      box.result = { ok: true, value, at: c.now };
    },
    (error: unknown) => {
      box.result = { ok: false, error, at: c.now };
    },
  );
  return box;
}

/** Runs the simulation until `p` settles (at most `ms` of simulated time). */
async function settle<T>(c: SimCluster, p: Promise<T>, ms = 5000): Promise<Settled<T>> {
  const box = track(c, p);
  await c.runUntil(() => box.result !== null, ms);
  if (box.result === null) throw new Error(`promise did not settle within ${ms} ms`);
  return box.result;
}

/** Runs until a simulator outcome (`c.propose`, `c.get`: they never reject) is known. */
async function outcome<T>(c: SimCluster, p: Promise<T>, ms = 5000): Promise<T> {
  const r = await settle(c, p, ms);
  if (!r.ok) throw r.error;
  return r.value;
}

function expectCode(r: { ok: true } | { ok: false; error: unknown }, code: RaftErrorCode): void {
  expect(r.ok, `expected a ${code} rejection`).toBe(false);
  if (!r.ok) {
    expect(RaftError.isInstance(r.error), String(r.error)).toBe(true);
    expect((r.error as RaftError).code, String(r.error)).toBe(code);
  }
}

/** Lets every pending promise continuation run, without advancing simulated time. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function others(c: SimCluster, id: NodeId): NodeId[] {
  return c.ids.filter((x) => x !== id);
}

const putCmd = (key: string, value: string) => encodeKvCommand({ op: 'put', key, value });

/** Puts `key=value` through `id` and checks it succeeded. */
async function put(c: SimCluster, id: NodeId, key: string, value: string): Promise<number> {
  const r = await outcome(c, c.propose(id, putCmd(key, value)));
  if (!r.ok) throw new Error(`put(${key}, ${value}) at ${id} failed: ${String(r.error)}`);
  return r.index;
}

/**
 * Waits until `leader` may take a conf change: it applied its first entry and heard from every
 * connected member recently (the conf-change guard counts members by last-heard tick).
 */
async function readyForConfChange(c: SimCluster, leader: NodeId): Promise<void> {
  const live = new Set(c.connectedIds());
  const r = raft(c, leader);
  await c.runUntil(() => {
    if (r.log.applied < r.pendingConfIndex) return false;
    for (const [id, pr] of r.tracker.progress) {
      if (id !== leader && live.has(id) && !pr.recentActive) return false;
    }
    return true;
  }, 1000);
}

/** Waits until `leader`'s progress shows `id` fully replicated. */
async function replicated(c: SimCluster, leader: NodeId, id: NodeId): Promise<void> {
  const ok = await c.runUntil(
    () => raft(c, leader).tracker.progress.get(id)?.match === raft(c, leader).log.lastIndex(),
    2000,
  );
  expect(ok, c.describeState()).toBe(true);
}

describe('leadership transfer (thesis §3.10)', () => {
  it('to an up-to-date follower: it leads at once, in the next term, via MsgTimeoutNow', async () => {
    await withCluster(await make(1), async (c) => {
      await put(c, (await c.waitForLeader()) as NodeId, 'a', '1');
      const leader = await c.waitForLeader();
      const target = others(c, leader)[0] as NodeId;
      await replicated(c, leader, target);
      const term0 = c.termOf(leader);
      const timeoutNow0 = msgs(c, 'MsgTimeoutNow');
      const t0 = c.now;
      const r = await settle(c, c.node(leader).transferLeadership(target));
      expect(r.ok, String(!r.ok && r.error)).toBe(true);
      // No election timeout was waited for.
      expect(c.now - t0).toBeLessThan(MIN_ELECTION_MS);
      expect(c.leader()).toBe(target);
      expect(c.termOf(target)).toBe(term0 + 1);
      expect(msgs(c, 'MsgTimeoutNow') - timeoutNow0).toBe(1);
      expect(raft(c, leader).role).toBe('follower');
      // The new leader serves writes; the old one redirects.
      await put(c, target, 'a', '2');
      const stale = await outcome(c, c.propose(leader, putCmd('a', '3')));
      expectCode(stale, 'NotLeader');
    });
  });

  it('to a lagging follower: it is caught up first, then leads', async () => {
    await withCluster(await make(2), async (c) => {
      const leader = await c.waitForLeader();
      const target = others(c, leader)[0] as NodeId;
      c.disconnect(target);
      let last = 0;
      for (let i = 0; i < 20; i++) last = await put(c, leader, `k${i}`, `v${i}`);
      c.connect(target);
      expect(raft(c, target).log.lastIndex()).toBeLessThan(last);
      const t0 = c.now;
      const r = await settle(c, c.node(leader).transferLeadership(target));
      expect(r.ok, String(!r.ok && r.error)).toBe(true);
      expect(c.now - t0).toBeLessThan(MIN_ELECTION_MS);
      expect(c.leader()).toBe(target);
      // Everything committed before the transfer is in the new leader's log and state.
      expect(raft(c, target).log.lastIndex()).toBeGreaterThan(last);
      await c.runUntil(() => c.appliedIndex(target) >= last, 1000);
      expect(c.localValue(target, 'k19')).toBe('v19');
      await put(c, target, 'k0', 'after');
    });
  });

  it('proposals and conf changes are rejected while a transfer is in progress', async () => {
    await withCluster(await make(3), async (c) => {
      const leader = await c.waitForLeader();
      const target = others(c, leader)[0] as NodeId;
      c.disconnect(target);
      for (let i = 0; i < 5; i++) await put(c, leader, 'k', `v${i}`);
      c.connect(target);
      const transfer = track(c, c.node(leader).transferLeadership(target));
      // Same turn: the target is still catching up.
      expectCode(
        await outcome(c, c.propose(leader, putCmd('k', 'x'))),
        'LeadershipTransferInProgress',
      );
      expectCode(
        await settle(c, c.node(leader).removeNode(others(c, leader)[1] as NodeId)),
        'LeadershipTransferInProgress',
      );
      await c.runUntil(() => transfer.result !== null, 2000);
      expect(transfer.result?.ok).toBe(true);
      // The rejected write never took effect.
      expect(c.localValue(target, 'k')).toBe('v4');
    });
  });

  it('to a disconnected node: aborts after an election timeout, the old leader carries on', async () => {
    await withCluster(await make(4), async (c) => {
      const leader = await c.waitForLeader();
      await put(c, leader, 'k', 'v0');
      const target = others(c, leader)[0] as NodeId;
      c.disconnect(target);
      const term0 = c.termOf(leader);
      const t0 = c.now;
      const transfer = track(c, c.node(leader).transferLeadership(target));
      await c.run(100);
      expectCode(
        await outcome(c, c.propose(leader, putCmd('k', 'x'))),
        'LeadershipTransferInProgress',
      );
      await c.runUntil(() => transfer.result !== null, 3000);
      const r = transfer.result;
      if (r === null) throw new Error('transfer never settled');
      expectCode(r, 'Timeout');
      // Aborted after about one election timeout (electionTick + 1 ticks), not before.
      expect(r.at - t0).toBeGreaterThanOrEqual(MIN_ELECTION_MS);
      expect(r.at - t0).toBeLessThan(2 * MIN_ELECTION_MS);
      expect(c.leader()).toBe(leader);
      expect(c.termOf(leader)).toBe(term0);
      expect(raft(c, leader).leadTransferee).toBeNull();
      await put(c, leader, 'k', 'v1');
      expect(c.localValue(leader, 'k')).toBe('v1');
    });
  });

  it('during a conf change: the pending change survives, and a removed target aborts it', async () => {
    await withCluster(await make(5), async (c) => {
      const leader = await c.waitForLeader();
      await put(c, leader, 'k', 'v0');
      await c.addNode('n4');
      const target = others(c, leader)[0] as NodeId;
      await replicated(c, leader, target);
      await readyForConfChange(c, leader);
      // A conf change in flight, then a transfer in the same turn.
      const change = track(c, c.node(leader).addLearner('n4'));
      const transfer = track(c, c.node(leader).transferLeadership(target));
      await c.runUntil(() => change.result !== null && transfer.result !== null, 2000);
      expect(transfer.result?.ok).toBe(true);
      expect(change.result?.ok, String(change.result)).toBe(true);
      expect(c.leader()).toBe(target);
      // The new leader has the change, and takes the next one once it has applied it.
      const learner = () => c.node(target).status().confState.learners.join() === 'n4';
      expect(await c.runUntil(learner, 500)).toBe(true);
      await readyForConfChange(c, target);
      const promote = await settle(c, c.node(target).addVoter('n4'));
      expect(promote.ok, String(!promote.ok && promote.error)).toBe(true);

      // A transfer to a node that a pending change removes ends when the removal applies.
      const l2 = target;
      const victim = others(c, l2).find((id) => id !== 'n4') as NodeId;
      c.disconnect(victim);
      await readyForConfChange(c, l2);
      const t0 = c.now;
      const removal = track(c, c.node(l2).removeNode(victim));
      const doomed = track(c, c.node(l2).transferLeadership(victim));
      await c.runUntil(() => removal.result !== null, 1000);
      expect(removal.result?.ok).toBe(true);
      expect(raft(c, l2).leadTransferee).toBeNull();
      // Proposals are accepted again well before the transfer would have timed out.
      await put(c, l2, 'k', 'v1');
      expect(c.now - t0).toBeLessThan(MIN_ELECTION_MS);
      await c.runUntil(() => doomed.result !== null, 2000);
      const d = doomed.result;
      if (d === null) throw new Error('transfer never settled');
      expectCode(d, 'Timeout');
      expect(c.leader()).toBe(l2);
    });
  });

  it('stop() on a leader hands leadership over without waiting for an election timeout', async () => {
    await withCluster(await make(6), async (c) => {
      const leader = await c.waitForLeader();
      await put(c, leader, 'k', 'v0');
      const rest = others(c, leader);
      const timeoutNow0 = msgs(c, 'MsgTimeoutNow');
      const t0 = c.now;
      const stopping = track(c, c.node(leader).stop());
      const next = await c.waitForLeader(rest, 2000);
      // A crash would need at least one election timeout (300 ms) before anyone campaigned.
      expect(c.now - t0).toBeLessThan(MIN_ELECTION_MS);
      expect(msgs(c, 'MsgTimeoutNow') - timeoutNow0).toBe(1);
      await c.runUntil(() => stopping.result !== null, 1000);
      expect(stopping.result?.ok).toBe(true);
      expect(c.node(leader).status().stopped).toBe(true);
      expect(c.termOf(next)).toBeGreaterThan(0);
      await put(c, next, 'k', 'v1');
    });
  });
});

describe('ReadIndex reads (thesis §6.4)', () => {
  it('a read on the leader or a follower sees every write completed before it started', async () => {
    await withCluster(await make(11), async (c) => {
      const leader = await c.waitForLeader();
      let staleLocal = 0;
      for (let i = 0; i < 10; i++) {
        const value = `v${i}`;
        await put(c, leader, 'k', value);
        // The write completed; some followers may not have applied it yet.
        for (const id of c.ids) if (c.localValue(id, 'k') !== value) staleLocal++;
        const reads = c.ids.map((id) => track(c, c.get(id, 'k')));
        await c.runUntil(() => reads.every((r) => r.result !== null), 2000);
        reads.forEach((r, j) => {
          const res = r.result;
          expect(res?.ok, `read at ${c.ids[j]}`).toBe(true);
          if (res?.ok) expect(res.value, `read at ${c.ids[j]}`).toEqual({ ok: true, value });
        });
      }
      // Local state was stale at read time, so the reads really waited for the read index.
      expect(staleLocal).toBeGreaterThan(0);
    });
  });

  it('concurrent reads in the same turn share one round', async () => {
    // Periodic heartbeats only every 500 ms, so every heartbeat seen here is a read round.
    await withCluster(await make(12, { electionTick: 100, heartbeatTick: 50 }), async (c) => {
      const leader = await c.waitForLeader();
      await put(c, leader, 'k', 'v');
      const follower = others(c, leader)[0] as NodeId;
      const hb0 = msgs(c, 'MsgHeartbeat');
      await c.runUntil(() => msgs(c, 'MsgHeartbeat') > hb0, 1000);
      await c.run(20);

      const round = async (reads: () => { result: Settled<unknown> | null }[]) => {
        const hb = msgs(c, 'MsgHeartbeat');
        const ri = msgs(c, 'MsgReadIndex');
        const rs = reads();
        await c.runUntil(() => rs.every((r) => r.result !== null), 1000);
        for (const r of rs) expect(r.result).toMatchObject({ ok: true, value: { ok: true } });
        return {
          heartbeats: msgs(c, 'MsgHeartbeat') - hb,
          readIndex: msgs(c, 'MsgReadIndex') - ri,
        };
      };
      const eight = <T>(f: () => T) => Array.from({ length: 8 }, f);

      // Eight reads on the leader: one heartbeat round to the two followers.
      expect(await round(() => eight(() => track(c, c.get(leader, 'k'))))).toEqual({
        heartbeats: 2,
        readIndex: 0,
      });
      // Eight reads on a follower: one MsgReadIndex, one round.
      expect(await round(() => eight(() => track(c, c.get(follower, 'k'))))).toEqual({
        heartbeats: 2,
        readIndex: 1,
      });
      // Reads in different turns do not share: one round each.
      const hb = msgs(c, 'MsgHeartbeat');
      for (let i = 0; i < 4; i++) expect((await outcome(c, c.get(leader, 'k'))).ok).toBe(true);
      expect(msgs(c, 'MsgHeartbeat') - hb).toBe(8);
    });
  });

  for (const checkQuorum of [true, false]) {
    it(`a partitioned old leader cannot serve a read (checkQuorum: ${checkQuorum})`, async () => {
      const opts = { nodes: 5, checkQuorum, preVote: checkQuorum };
      await withCluster(await make(13, opts), async (c) => {
        const old = await c.waitForLeader();
        await put(c, old, 'k', 'old');
        await c.runUntil(() => c.ids.every((id) => c.localValue(id, 'k') === 'old'), 1000);
        const buddy = others(c, old)[0] as NodeId;
        const majority = others(c, old).slice(1);
        c.partition([old, buddy], majority);
        // Reads through the old leader (directly, or via a follower on its side) right away...
        const early = [old, buddy, old].map((id) => track(c, c.get(id, 'k')));
        // ... and after the majority elected a leader and wrote a new value.
        const next = await c.waitForLeader(majority);
        await put(c, next, 'k', 'new');
        const late = [old, buddy].map((id) => track(c, c.get(id, 'k')));
        const all = [...early, ...late];
        await c.runUntil(() => all.every((r) => r.result !== null), 3000);
        for (const r of all) {
          const res = r.result;
          if (res === null || !res.ok) throw new Error('read never settled');
          const out = res.value;
          expect(out.ok, `a read resolved with ${JSON.stringify(out)}`).toBe(false);
          if (!out.ok) expect(['NotLeader', 'Timeout']).toContain((out.error as RaftError).code);
        }
        // Their local state is stale: serving it would have been wrong.
        expect(c.localValue(old, 'k')).toBe('old');
        c.heal();
        // After healing it rejoins and, once it knows the leader, reads the new value.
        let read: { ok: boolean; value?: string | null } = { ok: false };
        for (let i = 0; i < 20 && !read.ok; i++) {
          read = await outcome(c, c.get(old, 'k'), 3000);
          if (!read.ok) await c.run(100);
        }
        expect(read).toEqual({ ok: true, value: 'new' });
      });
    });
  }
});

describe('lease reads (readOnly: lease)', () => {
  it('answer without a round trip while the lease holds', async () => {
    for (const readOnly of ['lease', 'safe'] as const) {
      await withCluster(await make(21, { readOnly }), async (c) => {
        const leader = await c.waitForLeader();
        await put(c, leader, 'k', 'v');
        await c.run(250); // a heartbeat round a quorum acknowledged: the lease is fresh
        const t0 = c.now;
        const m0 = c.stats.messages;
        const r = track(c, c.get(leader, 'k'));
        await drainMicrotasks();
        if (readOnly === 'lease') {
          // Served from the lease: no message, no simulated time.
          expect(r.result).toEqual({ ok: true, value: { ok: true, value: 'v' }, at: t0 });
          expect(c.stats.messages).toBe(m0);
        } else {
          // ReadIndex needs a heartbeat round first.
          expect(r.result).toBeNull();
          await c.runUntil(() => r.result !== null, 1000);
          expect(r.result?.ok).toBe(true);
          // Heartbeats to both followers and at least one acknowledgement.
          expect(c.stats.messages - m0).toBeGreaterThanOrEqual(3);
        }
      });
    }
  });

  it('a partitioned lease leader stops answering before a new leader can be elected', async () => {
    await withCluster(await make(22, { readOnly: 'lease' }), async (c) => {
      const leader = await c.waitForLeader();
      const history: KvOperation[] = [];
      const w0 = c.now;
      await put(c, leader, 'k', 'old');
      history.push({
        clientId: 0,
        input: { op: 'put', key: 'k', value: 'old' },
        output: 'ok',
        call: w0,
        return: c.now,
      });
      await c.run(250);
      const rest = others(c, leader);
      const t0 = c.now;
      c.disconnect(leader);
      // Read at the isolated leader every 5 ms.
      const reads: {
        call: number;
        r: { result: Settled<{ ok: boolean; value?: string | null }> | null };
      }[] = [];
      let reading = true;
      const tick = (): void => {
        if (!reading) return;
        reads.push({ call: c.now, r: track(c, c.get(leader, 'k')) });
        c.schedule(5, tick);
      };
      c.schedule(0, tick);
      const next = await c.waitForLeader(rest, 3000);
      const elected = c.now;
      const w1 = c.now;
      await put(c, next, 'k', 'new');
      history.push({
        clientId: 1,
        input: { op: 'put', key: 'k', value: 'new' },
        output: 'ok',
        call: w1,
        return: c.now,
      });
      await c.run(500);
      reading = false;
      await c.run(1500);
      const served = reads.filter(
        (x) => x.r.result?.ok === true && (x.r.result.value as { ok: boolean }).ok,
      );
      // The lease was used after the partition (no round could complete)...
      expect(served.length).toBeGreaterThan(0);
      expect(Math.max(...served.map((x) => x.r.result?.at ?? 0))).toBeGreaterThan(t0);
      // ... and expired before any other node could become leader.
      for (const x of served) expect(x.r.result?.at ?? Infinity).toBeLessThan(elected);
      for (const x of reads) {
        const res = x.r.result;
        if (res?.ok === true && (res.value as { ok: boolean }).ok) {
          const value = (res.value as { value: string | null }).value;
          history.push({
            clientId: 2,
            input: { op: 'get', key: 'k' },
            output: value ?? null,
            call: x.call,
            return: res.at,
          });
        }
      }
      expect(checkOperations(kvModel, history).result).toBe('ok');
    });
  });

  it('lease reads stay linearizable while leaders are isolated again and again', async () => {
    await withCluster(await make(23, { readOnly: 'lease' }), async (c) => {
      const rng = new Rng(c.seed);
      const kv = new KvClients(c, rng.fork(), { clients: 4, keys: ['a', 'b'], thinkMs: [1, 15] });
      await c.waitForLeader();
      kv.start();
      for (let i = 0; i < 8; i++) {
        await c.run(rng.int(300, 700));
        const l = c.leader();
        if (l !== null) c.disconnect(l);
        await c.run(rng.int(200, 800));
        c.heal();
      }
      kv.stop();
      await c.run(2000);
      const r = kv.check();
      expect(r.ok, r.ok ? '' : r.message).toBe(true);
      const verdict = checkOperations(kvModel, kv.history);
      expect(verdict.result).toBe('ok');
      expect(kv.history.filter((op) => op.input.op === 'get').length).toBeGreaterThan(100);
    });
  });
});
