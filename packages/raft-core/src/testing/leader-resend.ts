import type { Raft } from '../raft.js';
import type { Index, MsgApp, NodeId } from '../types.js';
import type { Rng } from './rng.js';

/**
 * What to resend; every field left out is drawn at random (see `SimCluster.resendFromLeader`).
 */
export interface ResendChoice {
  /** The leader that sends (default: a random live leader). */
  readonly from?: NodeId;
  /** The follower it sends to (default: a random peer in the leader's progress). */
  readonly to?: NodeId;
  /** The index of the entry preceding the entries (`MsgApp.index`). */
  readonly prevIndex?: Index;
  /** How many entries follow `prevIndex` (fewer if the leader's log ends first). */
  readonly entries?: number;
}

/**
 * The *leader-resend* fault: an AppendEntries that the leader `r` could legitimately send to
 * `to` right now, built from its real log, though its own replication may never send it.
 *
 * Raft lets a leader retry from any `nextIndex` (§5.3: "decrement nextIndex and retry", by any
 * amount), other leaders restart from the follower's last index or commit index + 1 after a
 * rejection, a retransmission repeats an earlier append of the same term, and a size limit cuts
 * the entries to a prefix. All of these are: term = the leader's term, any `prevIndex` whose
 * term the leader still knows, a contiguous slice of its log after it (possibly empty) and its
 * commit index. A follower's AppendEntries rule must be safe against every one of them, not
 * only against what this leader's backtracking happens to produce (it never starts below the
 * true match point, which hides a follower that commits past the entries the append matched).
 *
 * `followerCommit` is the follower's commit index if the simulator knows it: the adversary may
 * aim at it, since an append starting at or above it is the one the follower checks entry by
 * entry. Returns null if the chosen `prevIndex` is compacted at the leader.
 */
export function legitimateAppend(
  r: Raft,
  to: NodeId,
  rng: Rng,
  followerCommit: Index | undefined,
  choice: ResendChoice = {},
): MsgApp | null {
  const log = r.log;
  // The lowest index whose term the leader still knows (the first available index - 1).
  const lo = log.snapshotIndex();
  const hi = log.lastIndex();
  const prev = clamp(choice.prevIndex ?? drawPrevIndex(r, to, rng, followerCommit), lo, hi);
  const logTerm = log.term(prev);
  if (logTerm === undefined || (choice.prevIndex !== undefined && choice.prevIndex !== prev))
    return null;
  const room = hi - prev;
  const n = Math.min(room, choice.entries ?? drawLength(rng, room));
  return {
    type: 'MsgApp',
    from: r.id,
    to,
    term: r.term,
    index: prev,
    logTerm,
    entries: log.slice(prev + 1, prev + 1 + n),
    commit: log.committed,
  };
}

/**
 * A follower of `r` (one of `peers`), half the time one the leader is still probing: right after
 * an election, or after a rejection or a lost append, where the follower's log may hold a stale
 * tail and the leader's own appends have not yet settled where the logs match. Never one that
 * is being sent a snapshot: a leader sends no appends there (etcd's StateSnapshot), and appends
 * that catch it up would abort most transfers, hiding the snapshot paths from the simulation.
 * Null if there is none.
 */
export function drawFollower(r: Raft, rng: Rng, peers: readonly NodeId[]): NodeId | null {
  const state = (id: NodeId) => r.tracker.progress.get(id)?.state;
  const open = peers.filter((id) => state(id) !== 'snapshot');
  const probing = open.filter((id) => state(id) === 'probe');
  if (probing.length > 0 && rng.chance(0.5)) return rng.pick(probing);
  return open.length > 0 ? rng.pick(open) : null;
}

/**
 * Biased toward the places where a follower's rule is tested hardest: its commit index (the
 * lowest prevIndex it checks against its log; an append that matches there but ends before a
 * stale tail must not commit the tail), just below what the leader believes matches, and low
 * indexes; otherwise anywhere in the leader's log.
 */
function drawPrevIndex(r: Raft, to: NodeId, rng: Rng, followerCommit: Index | undefined): Index {
  const lo = r.log.snapshotIndex();
  const x = rng.next();
  if (followerCommit !== undefined && x < 0.35) return followerCommit + rng.int(0, 1);
  if (x < 0.5) return (r.tracker.progress.get(to)?.match ?? lo) - rng.int(0, 2);
  if (x < 0.65) return lo + rng.int(0, 3);
  if (x < 0.75) return r.log.committed - rng.int(0, 3);
  return rng.int(lo, r.log.lastIndex());
}

/** Empty (a probe or a commit carrier), a few entries, a size-limited prefix, or everything. */
function drawLength(rng: Rng, room: number): number {
  const x = rng.next();
  if (x < 0.3) return 0;
  if (x < 0.6) return rng.int(1, 3);
  if (x < 0.8) return rng.int(0, room);
  return room;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}
