/**
 * Scenarios mirrored from the MIT 6.5840 Raft lab (raft/test_test.go), one test per lab test
 * with the same name and intent, run on the deterministic SimCluster in simulated time.
 *
 * Adaptations (all deliberate):
 * - Our leaders append an empty no-op entry when elected (§8), so log indexes are offset from
 *   the lab's; tests compare indexes relative to the first command's, never to absolute values.
 * - "sleep(ms)" advances simulated time; RaftElectionTimeout is 1 s, as in the lab.
 * - Timings: heartbeats every 100 ms (the lab's ≤ 10/s), election timeouts 300–600 ms.
 * Replay a failing test with its seed: the seed is in the test name and in every error message.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/testing/rng.js';
import { SimCluster, type SimClusterOptions } from '../src/testing/sim-cluster.js';
import type { NodeId } from '../src/types.js';
import { at, withCluster } from './support/sim-helpers.js';

const ELECTION_TIMEOUT = 1000;
const enc = (v: number | string) => new TextEncoder().encode(String(v));
const SEED = Number(process.env.SEED ?? 6_5840);

const UNRELIABLE = { dropRate: 0.1, minDelayMs: 0, maxDelayMs: 27 } as const;
const LONG_REORDER = { reorderRate: 0.1, reorderDelayMs: 2200 } as const;

async function make(n: number, extra: Partial<SimClusterOptions> = {}): Promise<SimCluster> {
  return SimCluster.create({ seed: SEED + n, nodes: n, ...extra });
}

/** The lab's checkTerms: every connected node agrees on the term. */
function checkTerms(c: SimCluster): number {
  let term = -1;
  for (const id of c.connectedIds()) {
    const t = c.termOf(id);
    if (term === -1) term = t;
    else expect(t, `servers disagree on term [seed ${c.seed}]`).toBe(term);
  }
  return term;
}

/** The lab's checkNoLeader: no connected node believes it is leader. */
function checkNoLeader(c: SimCluster): void {
  expect(
    c.leaders(c.connectedIds()),
    `expected no leader among connected servers [seed ${c.seed}]`,
  ).toEqual([]);
}

function indexOf(c: SimCluster, id: NodeId): number {
  return c.ids.indexOf(id);
}

describe('MIT 6.5840 lab 3A: election', () => {
  it('InitialElection', async () => {
    await withCluster(await make(3), async (c) => {
      const t0 = c.now;
      await c.waitForLeader();
      // The lab's bound for the first election.
      expect(c.now - t0).toBeLessThan(5000);
      await c.run(50);
      const term1 = checkTerms(c);
      expect(term1).toBeGreaterThanOrEqual(1);
      // With no failures the term must not change and the leader must stay.
      await c.run(2 * ELECTION_TIMEOUT);
      expect(checkTerms(c)).toBe(term1);
      await c.waitForLeader();
    });
  });

  it('ReElection', async () => {
    await withCluster(await make(3), async (c) => {
      const leader1 = await c.waitForLeader();
      // If the leader disconnects, a new one is elected within 1 s of simulated time.
      c.disconnect(leader1);
      const t0 = c.now;
      await c.waitForLeader();
      expect(c.now - t0).toBeLessThan(1000);
      // The old leader rejoining must not disturb the new leader.
      c.connect(leader1);
      const leader2 = await c.waitForLeader();
      // With no quorum, no new leader is elected.
      const other = at(c, indexOf(c, leader2) + 1);
      c.disconnect(leader2);
      c.disconnect(other);
      await c.run(2 * ELECTION_TIMEOUT);
      checkNoLeader(c);
      // A quorum arises: it elects a leader.
      c.connect(other);
      await c.waitForLeader();
      // Re-joining the last node must not prevent a leader from existing.
      c.connect(leader2);
      await c.waitForLeader();
    });
  });

  it('ManyElections', async () => {
    await withCluster(await make(7), async (c) => {
      const rng = new Rng(c.seed);
      await c.waitForLeader();
      for (let iter = 0; iter < 10; iter++) {
        const victims = rng.shuffle(c.ids).slice(0, 3);
        for (const v of victims) c.disconnect(v);
        // Either the current leader is still alive, or the remaining four elect a new one.
        const t0 = c.now;
        await c.waitForLeader();
        expect(c.now - t0).toBeLessThan(5000);
        for (const v of victims) c.connect(v);
      }
      await c.waitForLeader();
    });
  });
});

describe('MIT 6.5840 lab 3B: agreement', () => {
  it('BasicAgree', async () => {
    await withCluster(await make(3), async (c) => {
      await c.waitForLeader();
      let prev = -1;
      for (let i = 1; i <= 3; i++) {
        const next = prev === -1 ? c.node(c.leader() as NodeId).status().lastIndex + 1 : prev + 1;
        expect(c.nCommitted(next).count, 'some have committed before Start()').toBe(0);
        const index = await c.one(enc(i * 100), 3, false);
        if (prev !== -1) expect(index).toBe(prev + 1);
        prev = index;
      }
    });
  });

  it('RPCBytes', async () => {
    await withCluster(await make(3), async (c) => {
      const rng = new Rng(c.seed);
      await c.one(enc(99), 3, false);
      const bytes0 = c.stats.bytes;
      let sent = 0;
      for (let i = 0; i < 10; i++) {
        const cmd = new Uint8Array(5000);
        for (let j = 0; j < cmd.length; j++) cmd[j] = rng.int(0, 255);
        await c.one(cmd, 3, false);
        sent += cmd.length;
      }
      // Each command must be sent to each follower about once.
      const got = c.stats.bytes - bytes0;
      const expected = 2 * sent;
      expect(got, `too many RPC bytes; got ${got}, expected ${expected}`).toBeLessThanOrEqual(
        expected + 50_000,
      );
    });
  });

  it('FollowerFailure', async () => {
    await withCluster(await make(3), async (c) => {
      await c.one(enc(101), 3, false);
      // Disconnect one follower: the other two still agree.
      const leader1 = await c.waitForLeader();
      c.disconnect(at(c, indexOf(c, leader1) + 1));
      await c.one(enc(102), 2, false);
      await c.run(ELECTION_TIMEOUT);
      await c.one(enc(103), 2, false);
      // Disconnect the remaining follower: nothing commits.
      const leader2 = await c.waitForLeader();
      c.disconnect(at(c, indexOf(c, leader2) + 1));
      c.disconnect(at(c, indexOf(c, leader2) + 2));
      const r = c.start(leader2, enc(104));
      expect(r.isLeader, 'leader rejected Start()').toBe(true);
      await c.run(2 * ELECTION_TIMEOUT);
      expect(c.nCommitted(r.index).count, 'an entry committed without a majority').toBe(0);
    });
  });

  it('LeaderFailure', async () => {
    await withCluster(await make(3), async (c) => {
      await c.one(enc(101), 3, false);
      const leader1 = await c.waitForLeader();
      c.disconnect(leader1);
      // The remaining followers elect a new leader.
      await c.one(enc(102), 2, false);
      await c.run(ELECTION_TIMEOUT);
      await c.one(enc(103), 2, false);
      const leader2 = await c.waitForLeader();
      c.disconnect(leader2);
      // Submit to every server: none may commit.
      const starts = c.ids.map((id) => c.start(id, enc(104)));
      await c.run(2 * ELECTION_TIMEOUT);
      for (const s of starts)
        if (s.isLeader) expect(c.nCommitted(s.index).data).not.toEqual(enc(104));
    });
  });

  it('FailAgree', async () => {
    await withCluster(await make(3), async (c) => {
      await c.one(enc(101), 3, false);
      const leader = await c.waitForLeader();
      const f = at(c, indexOf(c, leader) + 1);
      c.disconnect(f);
      // The leader and remaining follower agree without the disconnected follower.
      for (const v of [102, 103, 104]) await c.one(enc(v), 2, false);
      await c.run(ELECTION_TIMEOUT);
      await c.one(enc(105), 2, false);
      // The follower reconnects and catches up.
      c.connect(f);
      await c.one(enc(106), 3, true);
      await c.run(ELECTION_TIMEOUT);
      await c.one(enc(107), 3, true);
    });
  });

  it('FailNoAgree', async () => {
    await withCluster(await make(5), async (c) => {
      await c.one(enc(10), 5, false);
      const leader = await c.waitForLeader();
      const li = indexOf(c, leader);
      for (const k of [1, 2, 3]) c.disconnect(at(c, li + k));
      const r = c.start(leader, enc(20));
      expect(r.isLeader, 'leader rejected Start()').toBe(true);
      await c.run(2 * ELECTION_TIMEOUT);
      expect(c.nCommitted(r.index).count, 'committed without a majority').toBe(0);
      // Repair: the cluster agrees again (the uncommitted entry may or may not survive).
      for (const k of [1, 2, 3]) c.connect(at(c, li + k));
      const leader2 = await c.waitForLeader();
      const r2 = c.start(leader2, enc(30));
      expect(r2.isLeader).toBe(true);
      expect(r2.index).toBeGreaterThanOrEqual(r.index);
      expect(r2.index).toBeLessThanOrEqual(r.index + 2);
      await c.one(enc(1000), 5, true);
    });
  });

  it('ConcurrentStarts', async () => {
    await withCluster(await make(3), async (c) => {
      let success = false;
      for (let attempt = 0; attempt < 5 && !success; attempt++) {
        if (attempt > 0) await c.run(3000);
        const leader = await c.waitForLeader();
        const first = c.start(leader, enc(1));
        if (!first.isLeader) continue;
        // Five concurrent Start()s in the same turn: they share one batch.
        const results = [0, 1, 2, 3, 4].map((i) => ({ i, r: c.start(leader, enc(100 + i)) }));
        if (results.some(({ r }) => !r.isLeader || r.term !== first.term)) continue;
        const ok = await c.runUntil(
          () => results.every(({ r }) => c.nCommitted(r.index).count === 3),
          2000,
        );
        if (c.termOf(leader) !== first.term) continue;
        expect(ok, 'concurrent commands did not commit').toBe(true);
        for (const { i, r } of results) expect(c.nCommitted(r.index).data).toEqual(enc(100 + i));
        // Distinct, consecutive indexes.
        expect(new Set(results.map(({ r }) => r.index)).size).toBe(5);
        success = true;
      }
      expect(success, 'term changed too often').toBe(true);
    });
  });

  it('Rejoin', async () => {
    await withCluster(await make(3), async (c) => {
      await c.one(enc(101), 3, true);
      // The leader is partitioned and accepts entries it cannot commit.
      const leader1 = await c.waitForLeader();
      c.disconnect(leader1);
      c.start(leader1, enc(102));
      c.start(leader1, enc(103));
      c.start(leader1, enc(104));
      // The new leader commits, also for index 2.
      await c.one(enc(103), 2, true);
      // The new leader is partitioned; the old one rejoins.
      const leader2 = await c.waitForLeader();
      c.disconnect(leader2);
      c.connect(leader1);
      await c.one(enc(104), 2, true);
      // Everyone rejoins.
      c.connect(leader2);
      await c.one(enc(105), 3, true);
    });
  });

  it('Backup', async () => {
    await withCluster(await make(5), async (c) => {
      const rng = new Rng(c.seed);
      const r = () => enc(rng.int(0, 1e9));
      await c.one(r(), 5, true);
      // The leader and one follower are cut off from the other three.
      const leader1 = await c.waitForLeader();
      const l1 = indexOf(c, leader1);
      for (const k of [2, 3, 4]) c.disconnect(at(c, l1 + k));
      // Lots of entries that won't commit.
      for (let i = 0; i < 50; i++) c.start(leader1, r());
      await c.run(ELECTION_TIMEOUT / 2);
      c.disconnect(leader1);
      c.disconnect(at(c, l1 + 1));
      // The other partition gets lots of successful commands.
      for (const k of [2, 3, 4]) c.connect(at(c, l1 + k));
      for (let i = 0; i < 50; i++) await c.one(r(), 3, true);
      // Now another partitioned leader and one follower.
      const leader2 = await c.waitForLeader();
      const l2 = indexOf(c, leader2);
      let other = at(c, l1 + 2);
      if (l2 === indexOf(c, other)) other = at(c, l2 + 1);
      c.disconnect(other);
      // Lots more entries that won't commit.
      for (let i = 0; i < 50; i++) c.start(leader2, r());
      await c.run(ELECTION_TIMEOUT / 2);
      // Bring the original leader back to life.
      for (const id of c.ids) c.disconnect(id);
      c.connect(leader1);
      c.connect(at(c, l1 + 1));
      c.connect(other);
      for (let i = 0; i < 50; i++) await c.one(r(), 3, true);
      // Now everyone.
      for (const id of c.ids) c.connect(id);
      await c.one(r(), 5, true);
    });
  });

  it('Count', async () => {
    await withCluster(await make(3), async (c) => {
      const rng = new Rng(c.seed);
      const leader = await c.waitForLeader();
      const total1 = c.stats.rpcs;
      expect(
        total1,
        `too many or too few RPCs (${total1}) to elect initial leader`,
      ).toBeGreaterThanOrEqual(1);
      expect(total1).toBeLessThanOrEqual(30);
      let success = false;
      let total2 = 0;
      for (let attempt = 0; attempt < 5 && !success; attempt++) {
        if (attempt > 0) await c.run(3000);
        const l = (await c.waitForLeader()) ?? leader;
        const before = c.stats.rpcs;
        const iters = 10;
        const first = c.start(l, enc(1));
        if (!first.isLeader) continue;
        const cmds: { index: number; data: Uint8Array }[] = [];
        let termChanged = false;
        for (let i = 1; i < iters + 2; i++) {
          const data = enc(rng.int(0, 1e9));
          const s = c.start(l, data);
          if (s.term !== first.term) {
            termChanged = true;
            break;
          }
          expect(s.isLeader).toBe(true);
          expect(s.index).toBe(first.index + i);
          cmds.push({ index: s.index, data });
        }
        if (termChanged) continue;
        const ok = await c.runUntil(
          () => cmds.every((x) => c.nCommitted(x.index).count === 3),
          5000,
        );
        if (c.termOf(l) !== first.term) continue;
        expect(ok).toBe(true);
        for (const x of cmds) expect(c.nCommitted(x.index).data).toEqual(x.data);
        total2 = c.stats.rpcs;
        const used = total2 - before;
        expect(used, `too many RPCs (${used}) for ${iters} entries`).toBeLessThanOrEqual(
          (iters + 1 + 3) * 3,
        );
        success = true;
      }
      expect(success, 'term changed too often').toBe(true);
      await c.run(ELECTION_TIMEOUT);
      const idle = c.stats.rpcs - total2;
      expect(idle, `too many RPCs (${idle}) for 1 second of idleness`).toBeLessThanOrEqual(3 * 20);
    });
  });
});

describe('MIT 6.5840 lab 3C: persistence', () => {
  async function crashAndRestart(c: SimCluster, id: NodeId): Promise<void> {
    c.crash(id);
    await c.restart(id);
  }

  it('Persist1', async () => {
    await withCluster(await make(3), async (c) => {
      await c.one(enc(11), 3, true);
      // Crash and restart all.
      for (const id of c.ids) c.crash(id);
      for (const id of c.ids) await c.restart(id);
      await c.one(enc(12), 3, true);
      const leader1 = await c.waitForLeader();
      c.disconnect(leader1);
      await crashAndRestart(c, leader1);
      c.connect(leader1);
      await c.one(enc(13), 3, true);
      const leader2 = await c.waitForLeader();
      c.disconnect(leader2);
      await c.one(enc(14), 2, true);
      await crashAndRestart(c, leader2);
      c.connect(leader2);
      // Wait for leader2 to catch up before killing another node.
      const last = c.node(c.leader() as NodeId).status().commitIndex;
      await c.runUntil(() => c.ids.every((id) => c.appliedIndex(id) >= last), 5000);
      const i3 = at(c, indexOf(c, await c.waitForLeader()) + 1);
      c.disconnect(i3);
      await c.one(enc(15), 2, true);
      await crashAndRestart(c, i3);
      c.connect(i3);
      await c.one(enc(16), 3, true);
    });
  });

  it('Persist2', async () => {
    await withCluster(await make(5), async (c) => {
      let index = 1;
      for (let iters = 0; iters < 5; iters++) {
        await c.one(enc(10 + index++), 5, true);
        const leader1 = await c.waitForLeader();
        const l = indexOf(c, leader1);
        c.disconnect(at(c, l + 1));
        c.disconnect(at(c, l + 2));
        await c.one(enc(10 + index++), 3, true);
        c.disconnect(leader1);
        c.disconnect(at(c, l + 3));
        c.disconnect(at(c, l + 4));
        await crashAndRestart(c, at(c, l + 1));
        await crashAndRestart(c, at(c, l + 2));
        c.connect(at(c, l + 1));
        c.connect(at(c, l + 2));
        await c.run(ELECTION_TIMEOUT);
        await crashAndRestart(c, at(c, l + 3));
        c.connect(at(c, l + 3));
        await c.one(enc(10 + index++), 3, true);
        c.connect(at(c, l + 4));
        c.connect(leader1);
      }
      await c.one(enc(1000), 5, true);
    });
  });

  it('Persist3', async () => {
    await withCluster(await make(3), async (c) => {
      await c.one(enc(101), 3, true);
      const leader = await c.waitForLeader();
      const l = indexOf(c, leader);
      c.disconnect(at(c, l + 2));
      await c.one(enc(102), 2, true);
      c.crash(leader);
      c.crash(at(c, l + 1));
      c.connect(at(c, l + 2));
      await c.restart(leader);
      await c.one(enc(103), 2, true);
      await c.restart(at(c, l + 1));
      await c.one(enc(104), 3, true);
    });
  });

  it('Figure8', async () => {
    await withCluster(await make(5), async (c) => {
      const rng = new Rng(c.seed);
      await c.one(enc(rng.int(0, 1e9)), 1, true);
      let nup = 5;
      for (let iters = 0; iters < 1000; iters++) {
        let leader: NodeId | null = null;
        for (const id of c.ids) {
          if (!c.isAlive(id)) continue;
          if (c.start(id, enc(rng.int(0, 1e9))).isLeader) leader = id;
        }
        await c.run(rng.int(0, 1000) < 100 ? rng.int(0, ELECTION_TIMEOUT / 2) : rng.int(0, 13));
        if (leader !== null && c.isAlive(leader)) {
          c.crash(leader);
          nup--;
        }
        if (nup < 3) {
          const s = rng.pick(c.ids);
          if (!c.isAlive(s)) {
            await c.restart(s);
            nup++;
          }
        }
      }
      for (const id of c.ids) if (!c.isAlive(id)) await c.restart(id);
      await c.one(enc(rng.int(0, 1e9)), 5, true);
    });
  });

  it('UnreliableAgree', async () => {
    await withCluster(await make(5, { network: UNRELIABLE }), async (c) => {
      for (let iter = 1; iter < 50; iter++) {
        // Four concurrent clients and one more, as the lab's goroutines.
        const datas = [0, 1, 2, 3].map((j) => enc(100 * iter + j));
        const idx = await c.oneMany([...datas, enc(iter)], 1, true);
        expect(new Set(idx).size).toBe(5);
      }
      c.setNetwork({ dropRate: 0, maxDelayMs: 5 });
      await c.one(enc(100), 5, true);
    });
  });

  it('Figure8Unreliable', async () => {
    await withCluster(await make(5, { network: UNRELIABLE }), async (c) => {
      const rng = new Rng(c.seed);
      await c.one(enc(rng.int(0, 9999)), 1, true);
      let nup = 5;
      for (let iters = 0; iters < 1000; iters++) {
        if (iters === 200) c.setNetwork(LONG_REORDER);
        let leader: NodeId | null = null;
        for (const id of c.ids) {
          if (c.start(id, enc(rng.int(0, 9999))).isLeader && c.connectedIds().includes(id))
            leader = id;
        }
        await c.run(rng.int(0, 1000) < 100 ? rng.int(0, ELECTION_TIMEOUT / 2) : rng.int(0, 13));
        if (leader !== null && rng.int(0, 1000) < ELECTION_TIMEOUT / 2) {
          c.disconnect(leader);
          nup--;
        }
        if (nup < 3) {
          const s = rng.pick(c.ids);
          if (!c.connectedIds().includes(s)) {
            c.connect(s);
            nup++;
          }
        }
      }
      for (const id of c.ids) c.connect(id);
      await c.one(enc(rng.int(0, 9999)), 5, true);
    });
  });

  async function churn(c: SimCluster, unreliable: boolean): Promise<void> {
    const rng = new Rng(c.seed);
    const committed: { data: Uint8Array; index: number }[] = [];
    let stop = false;
    // Three clients keep proposing to whoever is leader and record what committed.
    for (let client = 0; client < 3; client++) {
      let n = 0;
      const loop = (): void => {
        if (stop) return;
        const data = enc(`c${client}-${n++}-${rng.int(0, 1e6)}`);
        for (const id of c.ids) {
          const s = c.start(id, data);
          if (s.isLeader) {
            const idx = s.index;
            const check = (): void => {
              const got = c.nCommitted(idx);
              if (got.count > 0 && got.data !== null) {
                if (new TextDecoder().decode(got.data) === new TextDecoder().decode(data))
                  committed.push({ data, index: idx });
              } else if (!stop) c.schedule(10, check);
            };
            c.schedule(10, check);
            break;
          }
        }
        c.schedule(rng.int(1, 30), loop);
      };
      c.schedule(0, loop);
    }
    for (let iters = 0; iters < 20; iters++) {
      if (rng.int(0, 1000) < 200) c.disconnect(rng.pick(c.ids));
      if (rng.int(0, 1000) < 500) {
        const i = rng.pick(c.ids);
        if (!c.isAlive(i)) await c.restart(i);
        c.connect(i);
      }
      if (rng.int(0, 1000) < 200) {
        const i = rng.pick(c.ids);
        if (c.isAlive(i)) c.crash(i);
      }
      // Long enough for elections to settle, short enough to fail the churn-sensitive.
      await c.run((rng.int(0, 1000) * ELECTION_TIMEOUT * 7) / 10000);
    }
    await c.run(ELECTION_TIMEOUT);
    if (unreliable) c.setNetwork({ dropRate: 0, maxDelayMs: 5, reorderRate: 0 });
    for (const id of c.ids) {
      if (!c.isAlive(id)) await c.restart(id);
      c.connect(id);
    }
    await c.run(ELECTION_TIMEOUT);
    stop = true;
    const last = await c.one(enc('last'), 5, true);
    // Every value a client saw committed is in the final, agreed log, at the same index.
    for (const x of committed) {
      expect(x.index).toBeLessThan(last);
      expect(c.nCommitted(x.index).data).toEqual(x.data);
    }
    expect(committed.length).toBeGreaterThan(0);
  }

  it('ReliableChurn', async () => {
    await withCluster(await make(5), (c) => churn(c, false));
  });

  it('UnreliableChurn', async () => {
    await withCluster(await make(5, { network: UNRELIABLE }), (c) => churn(c, true));
  });
});
