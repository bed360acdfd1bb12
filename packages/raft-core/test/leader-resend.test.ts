/**
 * The simulator's leader-resend fault: appends a leader may legitimately send (§5.3: from any
 * earlier index, retransmitted, cut to a prefix) though this leader's own backtracking never
 * does. The follower's AppendEntries rule must be safe against all of them.
 */
import { describe, expect, it } from 'vitest';
import { SimCluster } from '../src/testing/sim-cluster.js';
import { runRandomScenario } from './support/random-scenario.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('leader resend fault', () => {
  it('fires in the random scenario, and the cluster still agrees', async () => {
    const r = await runRandomScenario(2);
    // One every 20–300 ms over 6 s of nemesis and the final checks, whenever a leader exists.
    expect(r.leaderResends).toBeGreaterThan(20);
  });

  it('sends a slice of the leader’s real log, at its term and commit index', async () => {
    const c = await SimCluster.create({ seed: 5, leaderResendMs: [5, 20] });
    try {
      const l = await c.waitForLeader();
      for (let i = 0; i < 6; i++) await c.one(enc(`v${i}`), 3);
      const r = c.node(l)._raw.raft;
      const to = c.ids.find((id) => id !== l) as string;
      const m = c.resendFromLeader({ from: l, to, prevIndex: 2, entries: 3 });
      expect(m).toMatchObject({ from: l, to, term: r.term, index: 2, commit: r.log.committed });
      expect(m?.logTerm).toBe(r.log.term(2));
      expect(m?.entries).toEqual(r.log.slice(3, 6));
      // Random resends go on while the cluster keeps agreeing (invariants checked every step).
      const before = c.stats.leaderResends;
      await c.one(enc('last'), 3);
      await c.run(1000);
      expect(c.stats.leaderResends).toBeGreaterThan(before + 40);
    } finally {
      c.stop();
    }
  });

  it('can send the leader’s latest snapshot instead, in chunks; the lagging follower catches up', async () => {
    const c = await SimCluster.create({
      seed: 7,
      snapshotEntries: 5,
      snapshotKeepEntries: 0,
      snapshotChunkSize: 16,
    });
    try {
      const l = await c.waitForLeader();
      const f = c.ids.find((id) => id !== l) as string;
      c.disconnect(f);
      for (let i = 0; i < 12; i++) await c.one(enc(`v${i}`), 2);
      const snap = c.node(l)._raw.raft.snapshot;
      expect(snap).not.toBeNull();
      const fr = () => c.node(f)._raw.raft;
      expect(fr().log.committed).toBeLessThan(snap?.meta.index as number);
      c.connect(f);
      const before = c.stats.byType.MsgSnap ?? 0;
      let sent = 0;
      for (let i = 0; i < 20 && sent === 0; i++) sent = c.resendSnapshotFromLeader();
      // Chunks of at most 16 bytes: the whole snapshot, through the simulated network.
      expect(sent).toBe(Math.max(1, Math.ceil((snap?.data.byteLength as number) / 16)));
      expect((c.stats.byType.MsgSnap ?? 0) - before).toBe(sent);
      await c.run(200);
      expect(fr().log.committed).toBeGreaterThanOrEqual(snap?.meta.index as number);
    } finally {
      c.stop();
    }
  });

  it('a follower with a stale tail does not commit it on a matching append that ends before it', async () => {
    // Every message takes exactly 1 ms, so the order of arrivals below is fixed.
    const c = await SimCluster.create({
      seed: 11,
      nodes: 5,
      network: { minDelayMs: 1, maxDelayMs: 1 },
    });
    try {
      const l1 = await c.waitForLeader();
      for (let i = 0; i < 3; i++) await c.one(enc(`v${i}`), 5);
      const f = c.ids.find((id) => id !== l1) as string;
      const rest = c.ids.filter((id) => id !== l1 && id !== f);
      const fr = (): ReturnType<typeof c.node>['_raw']['raft'] => c.node(f)._raw.raft;
      const k = fr().log.committed;
      expect(k).toBe(c.node(l1)._raw.raft.log.lastIndex());

      // l1 and f are cut off from the majority: l1's new entries reach f only (a stale tail).
      c.partition([l1, f], rest);
      for (let i = 0; i < 3; i++) c.start(l1, enc(`stale${i}`));
      await c.run(50);
      const staleTerm = c.termOf(l1);
      expect(fr().log.lastIndex()).toBe(k + 3);
      expect(fr().log.committed).toBe(k);

      // l1 dies; f stays cut off while the majority elects l2 and commits past the stale tail.
      c.crash(l1);
      c.heal();
      c.disconnect(f);
      const l2 = await c.waitForLeader(rest);
      for (let i = 0; i < 5; i++) await c.one(enc(`new${i}`), 3);
      const lr = c.node(l2)._raw.raft;
      expect(lr.log.committed).toBeGreaterThan(k + 3);
      expect(lr.log.term(k + 1)).not.toBe(staleTerm);

      // f rejoins. Before l2's own backtracking reaches it, l2 sends it an append that a
      // leader may send (any prevIndex, §5.3): prevIndex = f's commit index, no entries,
      // l2's commit index. It matches at k, so f accepts it; it says nothing about k+1…k+3.
      c.connect(f);
      const m = c.resendFromLeader({ from: l2, to: f, prevIndex: k, entries: 0 });
      expect(m).toMatchObject({ index: k, entries: [] });
      expect(m?.commit).toBeGreaterThan(k + 3);
      await c.run(1.5);
      expect(fr().term).toBe(lr.term);
      expect(fr().log.lastIndex()).toBe(k + 3);
      expect(fr().log.term(k + 1)).toBe(staleTerm);
      // The stale tail is not committed (commit = min(leader commit, last index matched)).
      expect(fr().log.committed).toBe(k);

      // l2's replication then replaces the tail, and f catches up.
      const last = await c.one(enc('after'), 4);
      expect(c.appliedAt(f, k + 1)?.data).toEqual(c.appliedAt(l2, k + 1)?.data);
      expect(c.appliedIndex(f)).toBeGreaterThanOrEqual(last);
    } finally {
      c.stop();
    }
  });
});
