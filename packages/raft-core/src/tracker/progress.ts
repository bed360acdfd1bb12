import type { Index } from '../types.js';
import { Inflights } from './inflights.js';

/**
 * How the leader replicates to one follower:
 * - `probe`: one MsgApp at a time until the match point is found (after rejections/restarts);
 * - `replicate`: optimistic pipelining, bounded by {@link Inflights};
 * - `snapshot`: a snapshot is in flight; nothing else is sent.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * `Progress` is the leader's view of one follower (Figure 2 "nextIndex[]/matchIndex[]").
 *
 * Invariant: `match < next`.
 */
export class Progress {
  match: Index = 0;
  next: Index;
  state: ProgressState = 'probe';
  /** In `probe`: a MsgApp was sent and no answer has been seen since (pauses further sends). */
  probeSent = false;
  /** In `snapshot`: the index of the snapshot being sent. */
  pendingSnapshot: Index = 0;
  /** In `snapshot`: bytes sent, and bytes the follower acknowledged. */
  snapSent = 0;
  snapAcked = 0;
  /** The offset of the last fast retransmit (one per loss). */
  snapRewoundAt = -1;
  /** Duplicate acknowledgements at `snapAcked` since it last advanced. */
  snapDupAcks = 0;
  /** The leader's tick when it last heard from this member (any message). */
  lastHeardTick = 0;
  /** `snapAcked` at the previous heartbeat response (detects a stalled transfer). */
  snapAckedAtHeartbeat = -1;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: Index, isLearner: boolean, maxInflight: number, maxInflightBytes: number) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapSent = 0;
    this.snapAcked = 0;
    this.snapAckedAtHeartbeat = -1;
    this.snapRewoundAt = -1;
    this.snapDupAcks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: Index): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records that entries up to `last` (totalling `bytes`) were sent. */
  sentEntries(last: Index, bytes: number): void {
    if (this.state === 'replicate') {
      this.next = last + 1;
      this.inflights.add(last, bytes);
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** A successful MsgAppResp for index `n`. Returns false if it was stale. */
  maybeUpdate(n: Index): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * A rejected MsgApp at `rejected`, with the follower's hint that its log matches at most up
   * to `matchHint`. Returns false if the rejection is stale (already superseded).
   */
  maybeDecrTo(rejected: Index, matchHint: Index): boolean {
    if (this.state === 'replicate') {
      // Stale if the rejected MsgApp is at or below what is known to match.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe/snapshot only the latest probe (at next-1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** True when the leader must not send more MsgApps to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
