/**
 * Scenarios mirrored from the MIT 6.5840 Raft lab 3D (log compaction, raft/test_test.go), one
 * test per lab test with the same name and intent, run on the deterministic SimCluster, plus
 * InstallSnapshot edge cases: heavy message loss, a follower crashing mid-transfer, and a restart
 * from snapshot + log tail.
 *
 * Adaptations (all deliberate):
 * - The lab's `SnapShotInterval = 10` is the cluster's `snapshotEntries: 10`; nodes keep
 *   `snapshotKeepEntries` entries behind each snapshot, so a follower further behind than that
 *   needs an InstallSnapshot, sent in `snapshotChunkSize`-byte chunks (several per snapshot).
 * - Commands are KV puts (so snapshots carry real state); every node's state is compared with a
 *   replay of the globally applied log, so a snapshot that loses or corrupts state is caught.
 * - The lab's "log size too large" check bounds the in-memory log instead of the persisted
 *   bytes: without compaction it would grow by hundreds of entries.
 * Replay a failing test with `SEED=<n>`; the seed is in every error message.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/testing/rng.js';
import {
  encodeKvCommand,
  SimCluster,
  type SimClusterOptions,
  type SimKvCommand,
} from '../src/testing/sim-cluster.js';
import { EntryType, type NodeId } from '../src/types.js';
import { at, msgs, raft, withCluster } from './support/sim-helpers.js';

const SEED = Number(process.env.SEED ?? 3_0004);
/** The lab's SnapShotInterval. */
const SNAP_INTERVAL = 10;
const UNRELIABLE = { dropRate: 0.1, minDelayMs: 0, maxDelayMs: 27 } as const;

async function make(salt: number, extra: Partial<SimClusterOptions> = {}): Promise<SimCluster> {
  return SimCluster.create({
    seed: SEED + salt,
    nodes: 3,
    snapshotEntries: SNAP_INTERVAL,
    snapshotKeepEntries: 2,
    snapshotChunkSize: 64,
    ...extra,
  });
}

/** A put of a random value to one of 20 keys: snapshots grow to several chunks. */
function randomPut(rng: Rng): Uint8Array {
  const value = `v${rng.int(0, 1e9)}-${'x'.repeat(rng.int(0, 12))}`;
  return encodeKvCommand({ op: 'put', key: `k${rng.int(0, 19)}`, value });
}

/** The KV state after applying the globally agreed log up to `upTo`. */
function replayKv(c: SimCluster, upTo: number): Map<string, string> {
  const kv = new Map<string, string>();
  const dec = new TextDecoder();
  for (let i = 1; i <= upTo; i++) {
    const e = c.checker.stateMachine.entries.get(i);
    if (e === undefined) throw new Error(`no applied entry recorded at ${i}`);
    if (e.type !== EntryType.Normal || e.data[0] !== 0x7b) continue;
    const cmd = JSON.parse(dec.decode(e.data)) as SimKvCommand;
    if (cmd.op === 'put') kv.set(cmd.key, cmd.value);
    else if ((kv.get(cmd.key) ?? null) === cmd.from) kv.set(cmd.key, cmd.to);
  }
  return kv;
}

/** Every live node's KV state equals a replay of the log up to its applied index. */
function expectStateMatchesLog(c: SimCluster): void {
  const keys = [...replayKv(c, Math.max(...c.ids.map((id) => c.appliedIndex(id)))).keys()];
  for (const id of c.ids) {
    if (!c.isAlive(id)) continue;
    const want = replayKv(c, c.appliedIndex(id));
    for (const k of keys) {
      expect(c.localValue(id, k), `${id}: value of ${k} at applied ${c.appliedIndex(id)}`).toBe(
        want.get(k) ?? null,
      );
    }
  }
}

/**
 * The lab's LogSize check: compaction keeps every in-memory log short — at most `keep` entries
 * behind the snapshot, fewer than an interval not yet snapshotted, and a burst of uncommitted
 * ones. Without compaction the 30 rounds below grow logs by hundreds of entries.
 */
function checkLogSize(c: SimCluster, keep: number): void {
  const max = keep + 3 * SNAP_INTERVAL;
  for (const id of c.ids) {
    if (!c.isAlive(id)) continue;
    const log = raft(c, id).log;
    expect(
      log.lastIndex() - log.snapshotIndex(),
      `${id}: log too large (first ${log.firstIndex()}, last ${log.lastIndex()})`,
    ).toBeLessThanOrEqual(max);
  }
}

interface SnapCommonReport {
  /** Reconnects/restarts after which the victim needed MsgSnap to catch up. */
  installs: number;
  /** MsgSnap sent during the largest single catch-up. */
  maxChunks: number;
  /** Restarts whose node came back with a non-empty snapshot. */
  restartsFromSnapshot: number;
}

/** The lab's snapcommon(): 30 rounds of victim/sender churn with snapshots in between. */
async function snapcommon(
  c: SimCluster,
  opts: { disconnect: boolean; reliable: boolean; crash: boolean; keep: number },
): Promise<SnapCommonReport> {
  const rng = new Rng(c.seed);
  const iters = 30;
  const servers = 3;
  const report: SnapCommonReport = { installs: 0, maxChunks: 0, restartsFromSnapshot: 0 };
  if (!opts.reliable) c.setNetwork(UNRELIABLE);
  await c.one(randomPut(rng), servers, true);
  let leader1 = await c.waitForLeader();
  for (let i = 0; i < iters; i++) {
    let victim = at(c, c.ids.indexOf(leader1) + 1);
    let sender = leader1;
    if (i % 3 === 1) {
      sender = at(c, c.ids.indexOf(leader1) + 1);
      victim = leader1;
    }
    if (opts.disconnect) {
      c.disconnect(victim);
      await c.one(randomPut(rng), servers - 1, true);
    }
    if (opts.crash) {
      c.crash(victim);
      await c.one(randomPut(rng), servers - 1, true);
    }
    // Perhaps send enough to get a snapshot.
    const nn = SNAP_INTERVAL / 2 + rng.int(0, SNAP_INTERVAL - 1);
    for (let j = 0; j < nn; j++) c.start(sender, randomPut(rng));
    // Let the appliers catch up; without faults every follower must be current, so that no
    // InstallSnapshot is needed in SnapshotBasic.
    await c.one(randomPut(rng), opts.disconnect || opts.crash ? servers - 1 : servers, true);
    checkLogSize(c, opts.keep);
    if (opts.disconnect || opts.crash) {
      const committedBefore = opts.disconnect ? raft(c, victim).log.committed : -1;
      let restoredAt = -1;
      if (opts.crash) {
        await c.restart(victim);
        restoredAt = raft(c, victim).log.snapshotIndex();
        if (raft(c, victim).log.snapshotIndex() > 0) report.restartsFromSnapshot++;
        // State is restored from the snapshot (then the durable committed tail), not replayed
        // from index 1: the in-order apply check would reject entries at or below the snapshot.
        expect(c.appliedIndex(victim)).toBeGreaterThanOrEqual(raft(c, victim).log.snapshotIndex());
        expectStateMatchesLog(c);
      }
      const snaps = msgs(c, 'MsgSnap');
      // Reconnect a follower, who may be behind and need a snapshot to catch up.
      c.connect(victim);
      await c.one(randomPut(rng), servers, true);
      const sent = msgs(c, 'MsgSnap') - snaps;
      // An install: MsgSnap was used, and the victim's log now starts after entries it had not
      // even known committed (for a restarted victim, after its restored snapshot).
      const floor = opts.disconnect ? committedBefore : restoredAt;
      if (sent > 0 && raft(c, victim).log.snapshotIndex() > floor) {
        report.installs++;
        report.maxChunks = Math.max(report.maxChunks, sent);
      }
      leader1 = await c.waitForLeader();
    }
  }
  if (!opts.reliable) c.setNetwork({ dropRate: 0, maxDelayMs: 5 });
  await c.one(randomPut(rng), servers, true);
  expectStateMatchesLog(c);
  // Compaction happened everywhere.
  for (const id of c.ids) expect(raft(c, id).log.snapshotIndex()).toBeGreaterThan(0);
  return report;
}

describe('MIT 6.5840 lab 3D: log compaction', () => {
  it('SnapshotBasic', async () => {
    // NB: the simulated network reorders messages, so a follower can spuriously reject an
    // append that overtook the one before it; keeping 20 entries behind each snapshot lets the
    // leader serve that retry from its log. With no faults, no InstallSnapshot is needed.
    const keep = 20;
    await withCluster(await make(1, { snapshotKeepEntries: keep }), async (c) => {
      const r = await snapcommon(c, { disconnect: false, reliable: true, crash: false, keep });
      // Everyone kept up: no InstallSnapshot was needed.
      expect(r.installs).toBe(0);
      expect(msgs(c, 'MsgSnap')).toBe(0);
    });
  });

  it('SnapshotInstall', async () => {
    await withCluster(await make(2), async (c) => {
      const r = await snapcommon(c, { disconnect: true, reliable: true, crash: false, keep: 2 });
      expect(r.installs, 'no reconnect needed an InstallSnapshot').toBeGreaterThan(3);
      // Snapshots are sent in several chunks.
      expect(r.maxChunks).toBeGreaterThan(1);
      expect(msgs(c, 'MsgSnapResp')).toBeGreaterThan(0);
    });
  });

  it('SnapshotInstallUnreliable', async () => {
    await withCluster(await make(3), async (c) => {
      const r = await snapcommon(c, { disconnect: true, reliable: false, crash: false, keep: 2 });
      expect(r.installs).toBeGreaterThan(3);
    });
  });

  it('SnapshotInstallCrash', async () => {
    await withCluster(await make(4), async (c) => {
      const r = await snapcommon(c, { disconnect: false, reliable: true, crash: true, keep: 2 });
      expect(r.restartsFromSnapshot).toBeGreaterThan(20);
      expect(r.installs).toBeGreaterThan(3);
    });
  });

  it('SnapshotInstallUnCrash', async () => {
    await withCluster(await make(5), async (c) => {
      const r = await snapcommon(c, { disconnect: false, reliable: false, crash: true, keep: 2 });
      expect(r.restartsFromSnapshot).toBeGreaterThan(20);
      expect(r.installs).toBeGreaterThan(3);
    });
  });

  it('SnapshotAllCrash', async () => {
    await withCluster(await make(6), async (c) => {
      const rng = new Rng(c.seed);
      const servers = 3;
      let restartsFromSnapshot = 0;
      await c.one(randomPut(rng), servers, true);
      for (let i = 0; i < 5; i++) {
        // Perhaps enough to get a snapshot.
        const nn = SNAP_INTERVAL / 2 + rng.int(0, SNAP_INTERVAL - 1);
        for (let j = 0; j < nn; j++) await c.one(randomPut(rng), servers, true);
        const index1 = await c.one(randomPut(rng), servers, true);
        // Snapshots whose save completed (the driver compacts only after that); one still being
        // fsynced at the crash is lost, as it should be.
        const savedBefore = c.ids.map((id) => raft(c, id).snapshot?.meta.index ?? 0);
        for (const id of c.ids) c.crash(id);
        for (const [i, id] of c.ids.entries()) {
          await c.restart(id);
          // Each node comes back from its latest saved snapshot, with that state installed.
          const snap = raft(c, id).log.snapshotIndex();
          expect(snap).toBeGreaterThanOrEqual(savedBefore[i] ?? 0);
          if (snap > 0) restartsFromSnapshot++;
          expect(c.appliedIndex(id)).toBeGreaterThanOrEqual(snap);
        }
        expectStateMatchesLog(c);
        const index2 = await c.one(randomPut(rng), servers, true);
        expect(index2, `index decreased from ${index1} to ${index2}`).toBeGreaterThan(index1);
        expectStateMatchesLog(c);
      }
      // 5 × 3 restarts after 35–100 entries: most of them start from a snapshot.
      expect(restartsFromSnapshot).toBeGreaterThan(9);
    });
  });

  it('SnapshotInit', async () => {
    await withCluster(await make(7), async (c) => {
      const rng = new Rng(c.seed);
      const servers = 3;
      await c.one(randomPut(rng), servers, true);
      // Enough ops to make a snapshot.
      for (let i = 0; i < SNAP_INTERVAL + 1; i++) await c.one(randomPut(rng), servers, true);
      const snapBefore = c.ids.map((id) => raft(c, id).log.snapshotIndex());
      for (const s of snapBefore) expect(s).toBeGreaterThan(0);
      for (const id of c.ids) c.crash(id);
      for (const id of c.ids) await c.restart(id);
      c.ids.forEach((id, i) => {
        // In memory the log was compacted to `snapshot - keep`; storage holds the snapshot itself.
        expect(raft(c, id).log.snapshotIndex()).toBeGreaterThanOrEqual(snapBefore[i] as number);
      });
      // A single op, to get something written back to persistent storage.
      const i1 = await c.one(randomPut(rng), servers, true);
      for (const id of c.ids) c.crash(id);
      for (const id of c.ids) await c.restart(id);
      // Another op, to trigger a potential bug (e.g. a restart that forgets lastApplied).
      const i2 = await c.one(randomPut(rng), servers, true);
      expect(i2).toBeGreaterThan(i1);
      expectStateMatchesLog(c);
    });
  });
});

describe('InstallSnapshot edge cases', () => {
  /** Disconnects a follower, commits enough for the leader to compact past it, and reconnects. */
  async function leaveBehind(
    c: SimCluster,
    rng: Rng,
    entries: number,
  ): Promise<{ leader: NodeId; victim: NodeId }> {
    await c.one(randomPut(rng), 3, true);
    const leader = await c.waitForLeader();
    const victim = at(c, c.ids.indexOf(leader) + 1);
    c.disconnect(victim);
    for (let i = 0; i < entries; i++) await c.one(bigPut(rng, i), 2, true);
    const lead = await c.waitForLeader();
    expect(raft(c, lead).log.firstIndex()).toBeGreaterThan(raft(c, victim).log.lastIndex() + 1);
    return { leader: lead, victim };
  }

  /** Puts of 40–60 bytes to distinct keys: the snapshot grows by about that much per entry. */
  function bigPut(rng: Rng, i: number): Uint8Array {
    return encodeKvCommand({ op: 'put', key: `big${i}`, value: 'y'.repeat(rng.int(40, 60)) });
  }

  it('a snapshot transfer under heavy message loss completes (go-back-N)', async () => {
    await withCluster(await make(11, { snapshotChunkSize: 48 }), async (c) => {
      const rng = new Rng(c.seed);
      const { leader, victim } = await leaveBehind(c, rng, 20);
      const snap = raft(c, leader).snapshot;
      if (snap === null) throw new Error('the leader has no snapshot');
      const chunks = Math.ceil(snap.data.byteLength / 48);
      expect(chunks).toBeGreaterThan(15);
      const sent0 = msgs(c, 'MsgSnap');
      // 30% of every message (chunks, acks, heartbeats) is lost from now on.
      c.setNetwork({ dropRate: 0.3 });
      c.connect(victim);
      const ok = await c.runUntil(() => c.appliedIndex(victim) >= snap.meta.index, 60_000);
      expect(ok, `victim stuck at ${c.appliedIndex(victim)}\n${c.describeState()}`).toBe(true);
      // Chunks were lost and resent: more were sent than the snapshot has.
      const sent = msgs(c, 'MsgSnap') - sent0;
      expect(sent).toBeGreaterThan(chunks);
      // ... but retransmission is bounded (no storm).
      expect(sent).toBeLessThan(20 * chunks);
      expect(raft(c, victim).log.snapshotIndex()).toBeGreaterThanOrEqual(snap.meta.index);
      c.setNetwork({ dropRate: 0 });
      await c.one(randomPut(rng), 3, true);
      expectStateMatchesLog(c);
    });
  });

  // Regression (fixed): a stale (reordered or duplicate) MsgSnapResp with a lower offset rewinds the leader's snapSent and resends a whole window, whose duplicate acks rewind it again: a MsgSnap storm (≈700k messages in 100 ms) after a follower restarts mid-transfer.
  it('a follower that crashes mid-transfer restarts the transfer cleanly', async () => {
    await withCluster(await make(12, { snapshotChunkSize: 16 }), async (c) => {
      const rng = new Rng(c.seed);
      const { leader, victim } = await leaveBehind(c, rng, 30);
      const pr = () => raft(c, leader).tracker.progress.get(victim);
      const snap = raft(c, leader).snapshot;
      if (snap === null) throw new Error('the leader has no snapshot');
      const chunks = Math.ceil(snap.data.byteLength / 16);
      c.connect(victim);
      // Wait until part (but not all) of the snapshot has been acknowledged.
      const mid = await c.runUntil(() => {
        const p = pr();
        return p !== undefined && p.state === 'snapshot' && p.snapAcked > 4 * 16;
      }, 2000);
      expect(mid, c.describeState()).toBe(true);
      expect(pr()?.snapAcked).toBeLessThan(snap.data.byteLength);
      const committedBefore = raft(c, victim).log.committed;
      c.crash(victim);
      await c.restart(victim);
      const sent0 = msgs(c, 'MsgSnap');
      // The restarted follower lost the partial snapshot; the leader must start over from
      // offset 0 and send the snapshot about once more (plus what was in flight and a few
      // go-back-N resends) — not flood the follower.
      const bound = 3 * chunks;
      const settled = await c.runUntil(
        () => c.appliedIndex(victim) >= snap.meta.index || msgs(c, 'MsgSnap') - sent0 > bound,
        5000,
      );
      expect(settled).toBe(true);
      expect(msgs(c, 'MsgSnap') - sent0, `snapshot of ${chunks} chunks`).toBeLessThanOrEqual(bound);
      expect(c.appliedIndex(victim)).toBeGreaterThanOrEqual(snap.meta.index);
      expect(raft(c, victim).log.snapshotIndex()).toBeGreaterThan(committedBefore);
      await c.one(randomPut(rng), 3, true);
      expectStateMatchesLog(c);
    });
  });

  // Regression (fixed): a stale (reordered) MsgSnapResp with an offset below snapAcked makes the leader rewind snapSent and resend a whole window; the duplicates' acks rewind it again, so a plain transfer over a reordering network becomes a MsgSnap storm (>100k messages for a 2 KB snapshot).
  it('a chunked transfer over a reordering network sends each chunk about once', async () => {
    await withCluster(await make(14, { snapshotChunkSize: 16 }), async (c) => {
      const rng = new Rng(c.seed);
      const { leader, victim } = await leaveBehind(c, rng, 30);
      const snap = raft(c, leader).snapshot;
      if (snap === null) throw new Error('the leader has no snapshot');
      const chunks = Math.ceil(snap.data.byteLength / 16);
      const sent0 = msgs(c, 'MsgSnap');
      c.connect(victim);
      const bound = 3 * chunks;
      await c.runUntil(
        () => c.appliedIndex(victim) >= snap.meta.index || msgs(c, 'MsgSnap') - sent0 > bound,
        5000,
      );
      // No message is lost: only reordering (1–5 ms delays) can cause resends.
      expect(msgs(c, 'MsgSnap') - sent0, `snapshot of ${chunks} chunks`).toBeLessThanOrEqual(bound);
      expect(c.appliedIndex(victim)).toBeGreaterThanOrEqual(snap.meta.index);
    });
  });

  it('a node restarts from snapshot + log tail and its applied state matches', async () => {
    await withCluster(await make(13), async (c) => {
      const rng = new Rng(c.seed);
      // Commit until every node has snapshots, then a few more (fewer than the interval), which
      // exist only in the log tail after the latest snapshot.
      let last = 0;
      for (let i = 0; i < 2 * SNAP_INTERVAL + 5; i++) last = await c.one(randomPut(rng), 3, true);
      const leader = await c.waitForLeader();
      const id = at(c, c.ids.indexOf(leader) + 1);
      // Let `id` learn and persist that `last` is committed, then cut it off: after the restart
      // it can only rebuild its state from its own storage.
      expect(await c.runUntil(() => c.appliedIndex(id) >= last, 1000)).toBe(true);
      await c.run(50);
      c.disconnect(id);
      const durableSnap = raft(c, id).snapshot?.meta.index ?? 0;
      expect(durableSnap).toBeGreaterThan(0);
      expect(last - durableSnap, 'no log tail after the snapshot').toBeGreaterThan(0);
      const keys = [...replayKv(c, last).keys()];
      const valuesBefore = keys.map((k) => c.localValue(id, k));
      c.crash(id);
      await c.restart(id);
      const log = raft(c, id).log;
      // Storage keeps exactly the snapshot and the entries after it.
      expect(log.snapshotIndex()).toBe(durableSnap);
      expect(log.lastIndex()).toBeGreaterThanOrEqual(last);
      // The tail is replayed on top of the restored snapshot without any help from the leader.
      expect(await c.runUntil(() => c.appliedIndex(id) >= last, 200)).toBe(true);
      expect(keys.map((k) => c.localValue(id, k))).toEqual(valuesBefore);
      expectStateMatchesLog(c);
      c.connect(id);
      await c.one(randomPut(rng), 3, true);
      expectStateMatchesLog(c);
    });
  });
});
