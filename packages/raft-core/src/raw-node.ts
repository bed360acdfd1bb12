import type { RaftConfig } from './config.js';
import { panic } from './errors.js';
import { Raft, type RaftState, type ReadState } from './raft.js';
import { confStateFromConfig } from './tracker/progress-tracker.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Index,
  Message,
  NodeId,
  Role,
  Snapshot,
  SnapshotMeta,
  Term,
} from './types.js';

/** Volatile state that is useful to observe but never persisted. */
export interface SoftState {
  /** The leader this node knows of, or null. */
  readonly lead: NodeId | null;
  /** This node's role. */
  readonly role: Role;
}

/**
 * `Ready` is everything a {@link RawNode} needs its driver to do, and the only I/O seam of the
 * pure core. Handle it in this order:
 *
 * 1. send `messages` — they depend on nothing unpersisted (the leader's appends and heartbeats
 *    may go out before its own write completes, thesis §10.2.1);
 * 2. persist `snapshot`, then `entries` (replacing stored entries from `entries[0].index` on),
 *    then `hardState` — durably (fsync) when `mustSync`;
 * 3. only then send `messagesAfterPersist` (votes, append acknowledgements: they promise that
 *    the state above is durable);
 * 4. apply `committedEntries` to the state machine, in order (after installing `snapshot`);
 * 5. call {@link RawNode.advance} with this Ready.
 *
 * Never call `ready()` again before `advance()`; `step`, `tick` and `propose` may be called
 * in between (their effects appear in the next Ready).
 */
export interface Ready {
  /** Present only when it changed since the last Ready. Persist BEFORE `messagesAfterPersist`. */
  readonly hardState: HardState | null;
  /** Entries to persist BEFORE `messagesAfterPersist` are sent. */
  readonly entries: readonly Entry[];
  /** A snapshot to persist and install BEFORE the entries and any apply. */
  readonly snapshot: Snapshot | null;
  /** Committed entries to apply, in order, AFTER persisting. */
  readonly committedEntries: readonly Entry[];
  /** Messages that may be sent at once. */
  readonly messages: readonly Message[];
  /** Messages to send only AFTER the state above is durable. */
  readonly messagesAfterPersist: readonly Message[];
  /** Whether the write must be fsynced (entries, term or vote changed). */
  readonly mustSync: boolean;
  /** Present when the leader or role changed since the last Ready. */
  readonly softState: SoftState | null;
  /**
   * ReadIndex outcomes for requests made with {@link RawNode.readIndex}: serve the read with
   * `context` once `appliedIndex ≥ index` (or fail it if `index` is -1).
   */
  readonly readStates: readonly ReadState[];
}

/** A snapshot of a node's state for observability. */
export interface RawStatus {
  /** This node. */
  readonly id: NodeId;
  /** Its current role. */
  readonly role: Role;
  /** Its current term. */
  readonly term: Term;
  /** Whom it voted for in `term`, or null. */
  readonly vote: NodeId | null;
  /** The leader it knows of, or null. */
  readonly leader: NodeId | null;
  /** The highest index it knows to be committed. */
  readonly commitIndex: Index;
  /** The highest index applied to its state machine. */
  readonly appliedIndex: Index;
  /** The index of the last entry in its log. */
  readonly lastIndex: Index;
  /**
   * The index the log starts after: its snapshot's last index (0 before the first). In a
   * `RaftNode`'s status it is the last durable snapshot instead, which may be ahead: the driver
   * keeps some entries behind a new snapshot in memory for lagging followers.
   */
  readonly snapshotIndex: Index;
  /** The configuration in force (the latest applied). */
  readonly confState: ConfState;
}

/**
 * `PeerProgress` is the leader's view of one other member's replication (a copy of its
 * `Progress`, Figure 2 "nextIndex[]/matchIndex[]"), for dashboards and metrics.
 */
export interface PeerProgress {
  /** The member. */
  readonly id: NodeId;
  /** Highest index known to be replicated on the peer. */
  readonly match: Index;
  /** Next index the leader will send. */
  readonly next: Index;
  /** `probe` (finding the match point), `replicate` (pipelining) or `snapshot` (sending one). */
  readonly state: 'probe' | 'replicate' | 'snapshot';
  /** In `snapshot`: the index of the snapshot being sent (else 0). */
  readonly pendingSnapshot: Index;
  /** Heard from since the last CheckQuorum round (reset each round, so briefly false). */
  readonly recentActive: boolean;
  /** Heard from within the last election timeout: the leader's steady notion of reachable. */
  readonly reachable: boolean;
  /** True for a learner (it does not vote). */
  readonly learner: boolean;
  /** MsgApps sent and not yet acknowledged. */
  readonly inflight: number;
  /** Payload bytes of the unacknowledged MsgApps. */
  readonly inflightBytes: number;
}

/**
 * `RawNode` is a synchronous, I/O-free Raft replica: inputs are `tick`, `step` and `propose`;
 * outputs come out of `ready()` and are acknowledged with `advance()`.
 */
export class RawNode {
  /**
   * The role state machine underneath. For tests and the simulator; drive the node through the
   * methods below.
   */
  readonly raft: Raft;
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private inReady = false;

  constructor(config: RaftConfig, state: RaftState) {
    this.raft = new Raft(config, state);
    this.prevHardState = state.hardState;
    this.prevSoftState = { lead: null, role: 'follower' };
  }

  /** Advances the logical clock by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** Campaigns at once (as if the election timeout elapsed). */
  campaign(): void {
    this.raft.hup('election');
  }

  /** Steps a message received from a peer. */
  step(m: Message): void {
    this.raft.step(m);
  }

  /** Proposes an entry (leader only; throws `NotLeaderError` otherwise). */
  propose(
    data: Uint8Array,
    type?: EntryType,
  ): {
    /** The index the entry was given. */
    index: Index;
    /** The term it was proposed in (it commits only if the entry at `index` keeps this term). */
    term: Term;
  } {
    return this.raft.propose(data, type);
  }

  /** Requests a linearizable read point for `context` (see `Ready.readStates`). */
  readIndex(context: number): void {
    this.raft.readIndex(context);
  }

  /** Leader: starts a leadership transfer to `to` (thesis §3.10). */
  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  /** Leader: proposes a membership change (thesis §4). */
  proposeConfChange(cc: ConfChange): {
    /** The index the entry was given. */
    index: Index;
    /** The term it was proposed in (it commits only if the entry at `index` keeps this term). */
    term: Term;
  } {
    return this.raft.proposeConfChange(cc);
  }

  /**
   * Applies a committed membership change, in log order; returns the new configuration. Pass
   * the entry's `index`: a change at or below the configuration in force (an older Ready applied
   * after a newer snapshot was installed) is then ignored.
   */
  applyConfChange(cc: ConfChange, index?: Index): ConfState {
    return this.raft.applyConfChange(cc, index);
  }

  /**
   * Where a local snapshot may be taken now: the applied index, its term and the configuration
   * in force at it. Null while the configuration is ahead of the applied state (a snapshot from
   * the leader is installed in the core but not yet in the state machine).
   */
  snapshotPoint(): SnapshotMeta | null {
    const r = this.raft;
    const applied = r.log.applied;
    if (r.log.pendingSnapshot !== null || r.confIndex > applied) return null;
    const term = r.log.term(applied);
    if (term === undefined) return null;
    return { index: applied, term, confState: confStateFromConfig(r.tracker.config) };
  }

  /** Records a snapshot the driver saved and compacts the in-memory log behind it. */
  compact(snapshot: Snapshot, keepEntries: number): void {
    this.raft.compact(snapshot, keepEntries);
  }

  /** The current leader and role. */
  softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.role };
  }

  private hardStateChanged(): boolean {
    const p = this.prevHardState;
    const r = this.raft;
    return p.term !== r.term || p.vote !== r.vote || p.commit !== r.log.committed;
  }

  /** True if `ready()` would return something to do. */
  hasReady(): boolean {
    const r = this.raft;
    const ss = this.prevSoftState;
    return (
      r.msgs.length > 0 ||
      r.msgsAfterPersist.length > 0 ||
      r.readStates.length > 0 ||
      r.hasPendingBcast() ||
      r.log.hasUnstable() ||
      r.log.pendingSnapshot !== null ||
      r.log.hasNextCommittedEntries() ||
      this.hardStateChanged() ||
      ss.lead !== r.lead ||
      ss.role !== r.role
    );
  }

  /** Collects the work to do. See {@link Ready} for the contract. */
  ready(): Ready {
    if (this.inReady) panic('ready() called again before advance()');
    const r = this.raft;
    r.flushAppends();
    const hsChanged = this.hardStateChanged();
    const hardState = hsChanged ? r.hardState() : null;
    const entries = r.log.unstableEntries();
    const ss = this.softState();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role;
    const rd: Ready = {
      hardState,
      entries,
      snapshot: r.log.pendingSnapshot,
      committedEntries: r.log.nextCommittedEntries(r.cfg.maxCommittedSizePerReady),
      messages: r.msgs,
      messagesAfterPersist: r.msgsAfterPersist,
      mustSync:
        entries.length > 0 ||
        r.log.pendingSnapshot !== null ||
        (hardState !== null &&
          (hardState.term !== this.prevHardState.term ||
            hardState.vote !== this.prevHardState.vote)),
      softState: softChanged ? ss : null,
      readStates: r.readStates,
    };
    r.readStates = [];
    r.msgs = [];
    r.msgsAfterPersist = [];
    if (hardState !== null) this.prevHardState = hardState;
    if (softChanged) this.prevSoftState = ss;
    this.inReady = true;
    return rd;
  }

  /**
   * Records that the state machine has applied every committed entry up to `index`, before the
   * Ready that carried them is advanced. A driver that applies a Ready's committed entries while
   * that Ready's own write is still in flight calls this once they are applied, so that the
   * applied index (reads, snapshots, `status()`) never lags the state machine. `index` must be
   * within `[applied, committed]`; `advance` later treats it as already done.
   */
  ackApplied(index: Index): void {
    this.raft.log.appliedTo(index);
    // What follows an applied configuration (leaving a joint one) need not wait for advance.
    this.raft.afterAdvance();
  }

  /** Acknowledges that `rd` was fully handled (persisted, sent, applied). */
  advance(rd: Ready): void {
    if (!this.inReady) panic('advance() without ready()');
    this.inReady = false;
    const r = this.raft;
    if (rd.snapshot !== null && r.log.pendingSnapshot === rd.snapshot) r.log.pendingSnapshot = null;
    // The driver installed the snapshot before applying this Ready's entries.
    if (rd.snapshot !== null && rd.snapshot.meta.index > r.log.applied)
      r.log.appliedTo(rd.snapshot.meta.index);
    const n = rd.committedEntries.length;
    if (n > 0) r.log.appliedTo((rd.committedEntries[n - 1] as Entry).index);
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1] as Entry;
      r.onStable(last.index, last.term);
    }
    r.afterAdvance();
  }

  /** The node's current state, for monitoring. */
  status(): RawStatus {
    const r = this.raft;
    return {
      id: r.id,
      role: r.role,
      term: r.term,
      vote: r.vote,
      leader: r.lead,
      commitIndex: r.log.committed,
      appliedIndex: r.log.applied,
      lastIndex: r.log.lastIndex(),
      snapshotIndex: r.log.snapshotIndex(),
      confState: confStateFromConfig(r.tracker.config),
    };
  }

  /** Leader only: replication progress of every other member, by id; empty elsewhere. */
  progress(): PeerProgress[] {
    const r = this.raft;
    if (r.role !== 'leader') return [];
    const out: PeerProgress[] = [];
    for (const [id, pr] of r.tracker.progress) {
      if (id === r.id) continue;
      out.push({
        id,
        match: pr.match,
        next: pr.next,
        state: pr.state,
        pendingSnapshot: pr.pendingSnapshot,
        recentActive: pr.recentActive,
        reachable: r.ticksElapsed - pr.lastHeardTick <= r.cfg.electionTick,
        learner: pr.isLearner,
        inflight: pr.inflights.count,
        inflightBytes: pr.inflights.bytes,
      });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
