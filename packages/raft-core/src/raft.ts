import { decodeConfChange } from './confchange/codec.js';
import { type RaftConfig, type ResolvedRaftConfig, resolveConfig } from './config.js';
import { NotLeaderError, panic, RaftError } from './errors.js';
import { RaftLog } from './log.js';
import type { Logger } from './logger.js';
import * as membership from './membership.js';
import * as readIdx from './read-index.js';
import { ReadOnly, type ReadRequest } from './read-only.js';
import * as replication from './replication.js';
import type { IncomingSnapshot } from './snapshot-transfer.js';
import * as snapshots from './snapshot-transfer.js';
import { configFromConfState, ProgressTracker } from './tracker/progress-tracker.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Index,
  type Message,
  type MsgVote,
  type NodeId,
  type Role,
  type Snapshot,
  type Term,
} from './types.js';

/** What a node starts from: its durable state as read from storage. */
export interface RaftState {
  /** The persisted term, vote and commit index. */
  readonly hardState: HardState;
  /** The configuration at the snapshot point (or the bootstrap one). */
  readonly confState: ConfState;
  /** The snapshot point the log starts after (index 0, term 0 for none). */
  readonly snapshotIndex: Index;
  /** The term of the entry at `snapshotIndex` (0 for none). */
  readonly snapshotTerm: Term;
  /** Every entry after the snapshot point, in order. */
  readonly entries: readonly Entry[];
  /** The latest snapshot (sent to followers that fall behind the log), if any. */
  readonly snapshot?: Snapshot | null;
}

/**
 * The outcome of a ReadIndex request (thesis §6.4): once the state machine has applied
 * `index`, a read issued with `context` may be served locally. `index` is -1 if the request
 * failed (no leader, or leadership lost) and may be retried.
 */
export interface ReadState {
  /** The read index: serve the read once this is applied (-1: the request failed). */
  readonly index: Index;
  /** The context passed to `readIndex`, identifying the request. */
  readonly context: number;
}

type CampaignType = 'preElection' | 'election' | 'transfer';

/**
 * `Raft` is the role state machine of one replica (§5): follower, pre-candidate, candidate
 * and leader, with PreVote, CheckQuorum and pipelined replication. It is synchronous and does
 * no I/O; {@link RawNode} wraps it with the Ready/advance protocol.
 *
 * NB: the feature logic lives beside this file as functions of a `Raft`: `replication.ts`
 * (§5.3), `read-index.ts` (thesis §6.4), `snapshot-transfer.ts` (thesis §5) and `membership.ts`
 * (thesis §3.10, §4). Members tagged internal are shared with those modules only.
 */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  /** @internal */
  readonly logger: Logger;

  term: Term = 0;
  vote: NodeId | null = null;
  lead: NodeId | null = null;
  role: Role = 'follower';

  /** Messages that may be sent at once (they depend on nothing unpersisted). */
  msgs: Message[] = [];
  /** Messages to send only after this Ready's entries/hard state are durable. */
  msgsAfterPersist: Message[] = [];

  /** ReadIndex outcomes for local requests, handed out in the next Ready. */
  readStates: ReadState[] = [];
  /** The latest snapshot, sent to followers whose next entry was compacted. */
  snapshot: Snapshot | null = null;
  /** Leadership transfer target (thesis §3.10), or null. */
  leadTransferee: NodeId | null = null;
  /** Index of the last conf change proposed by this leader; a new one waits until it applied. */
  pendingConfIndex: Index = 0;
  /**
   * Log index of the configuration in force: the last ConfChange entry applied, or the snapshot
   * the configuration was restored from. Never decreases: a ConfChange at or below it (an older
   * entry applied after a newer snapshot was installed) must not change the configuration.
   */
  confIndex: Index = 0;
  /**
   * Leader: a MsgTimeoutNow went out in this term. Its target may campaign — bypassing the
   * followers' leader leases — whenever it arrives, even after the transfer was aborted, so
   * no lease read may be served for the rest of the term.
   * @internal
   */
  timeoutNowSent = false;

  /** @internal */
  readonly readOnly = new ReadOnly();
  /** Reads received before this leader committed an entry of its term (they must wait). */
  /** @internal */
  pendingReads: ReadRequest[] = [];
  /** @internal */
  readSeq = 0;
  /** Ticks since this node started (the leader's clock for leases). */
  /** @internal */
  ticksElapsed = 0;
  /** Lease mode: tick at which the latest quorum-acknowledged heartbeat round was sent. */
  /** @internal */
  leaseFrom = Number.NEGATIVE_INFINITY;
  /** Lease mode: send tick of each heartbeat round in flight. */
  /** @internal */
  readonly roundSentAt = new Map<number, number>();
  /** A snapshot being received in chunks. */
  /** @internal */
  incoming: IncomingSnapshot | null = null;

  /** @internal */
  electionElapsed = 0;
  /** @internal */
  heartbeatElapsed = 0;
  /** @internal */
  randomizedElectionTimeout = 0;
  /** Leader: entries were appended (or the commit index moved) and followers should hear of it. */
  /** @internal */
  pendingBcast = false;

  constructor(config: RaftConfig, state: RaftState) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.logger = this.cfg.logger;
    this.log = new RaftLog(
      state.snapshotIndex,
      state.snapshotTerm,
      state.entries,
      state.hardState.commit,
    );
    this.tracker = new ProgressTracker(this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
    this.tracker.setConfig(configFromConfState(state.confState), this.log.lastIndex() + 1);
    this.term = state.hardState.term;
    this.vote = state.hardState.vote;
    this.snapshot = state.snapshot ?? null;
    this.confIndex = state.snapshotIndex;
    this.becomeFollower(this.term, null);
    this.logger.info(`${this.id} started at term ${this.term}`, {
      commit: this.log.committed,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
    });
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** A node may campaign only if it is a voter in the current configuration. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id);
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions

  /** @internal */
  reset(term: Term): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.tracker.resetVotes();
    this.pendingBcast = false;
    this.leadTransferee = null;
    this.leaseFrom = Number.NEGATIVE_INFINITY;
    this.timeoutNowSent = false;
    this.roundSentAt.clear();
    readIdx.failReads(this, [...this.readOnly.reset(), ...this.pendingReads]);
    this.pendingReads = [];
    const last = this.log.lastIndex();
    for (const [id, pr] of this.tracker.progress) {
      pr.match = 0;
      pr.next = last + 1;
      pr.state = 'probe';
      pr.probeSent = false;
      pr.pendingSnapshot = 0;
      pr.recentActive = false;
      pr.lastHeardTick = Number.NEGATIVE_INFINITY;
      pr.inflights.reset();
      if (id === this.id) {
        // The leader counts itself only for what is durable (thesis §10.2.1).
        pr.match = this.log.stable;
      }
    }
  }

  /** @internal */
  resetRandomizedElectionTimeout(): void {
    const et = this.cfg.electionTick;
    this.randomizedElectionTimeout = et + Math.floor(this.cfg.random() * et);
  }

  becomeFollower(term: Term, lead: NodeId | null): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
    this.logger.info(`${this.id} became follower at term ${this.term}`, { lead });
  }

  /** @internal Exposed for tests. */
  becomePreCandidate(): void {
    if (this.role === 'leader') panic('invalid transition [leader -> pre-candidate]');
    // PreVote does not change the term or the vote (thesis §9.6).
    this.tracker.resetVotes();
    this.lead = null;
    this.role = 'preCandidate';
    this.logger.info(`${this.id} became pre-candidate at term ${this.term}`);
  }

  /** @internal Exposed for tests. */
  becomeCandidate(): void {
    if (this.role === 'leader') panic('invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.logger.info(`${this.id} became candidate at term ${this.term}`);
  }

  /** @internal Exposed for tests. */
  becomeLeader(): void {
    if (this.role === 'follower') panic('invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.tracker.progress.get(this.id);
    // The leader's own progress is trivially in replicate state.
    if (self) self.becomeReplicate();
    // §8: a new leader commits an empty entry of its own term to learn what is committed.
    // A conf change may be uncommitted in our log: allow a new one only once it is applied.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntry(EntryType.Normal, EMPTY);
    this.logger.info(`${this.id} became leader at term ${this.term}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Ticks

  tick(): void {
    this.ticksElapsed++;
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** @internal */
  tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup('election');
    }
  }

  /** @internal */
  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.tracker.quorumActive(this.id)) {
          this.logger.warn(`${this.id} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, null);
          return;
        }
        for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
      }
      if (this.leadTransferee !== null) {
        this.logger.info(
          `${this.id} aborted leadership transfer to ${this.leadTransferee}: timed out`,
        );
        this.leadTransferee = null;
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      if (this.cfg.readOnly === 'lease') readIdx.startLeaseRound(this, []);
      // The latest pending ReadIndex round rides on every heartbeat, so a round whose own
      // heartbeats or acknowledgements were lost is retried (an ack completes earlier rounds).
      else replication.bcastHeartbeat(this, this.readOnly.lastId());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Elections

  /** Starts an election now (as if the election timeout elapsed). */
  hup(kind: 'election' | 'transfer'): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) {
      this.logger.warn(`${this.id} is unpromotable and can not campaign`);
      return;
    }
    // Our configuration lags until committed conf changes are applied: do not campaign on it.
    for (let i = this.log.applied + 1; i <= this.log.committed; i++) {
      const e = this.log.entry(i);
      if (e?.type === EntryType.ConfChange && !membership.isNoopConfChange(this, e)) {
        this.logger.warn(
          `${this.id} cannot campaign: conf change at ${i} is committed but not applied`,
        );
        return;
      }
    }
    if (kind === 'transfer') this.campaign('transfer');
    else if (this.cfg.preVote) this.campaign('preElection');
    else this.campaign('election');
  }

  /** @internal */
  campaign(t: CampaignType): void {
    let term: Term;
    let type: 'MsgVote' | 'MsgPreVote';
    if (t === 'preElection') {
      this.becomePreCandidate();
      type = 'MsgPreVote';
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = 'MsgVote';
      term = this.term;
    }
    // NB: configurations take effect here when applied (as in etcd); a lagging node may hold
    // newer ConfChange entries it has not applied (not even known committed). Winning in the
    // applied configuration alone could then elect it with a quorum the newer configuration no
    // longer needs — e.g. the old voters after a joint change was entered and left — and lose
    // entries the newer configuration committed. So it must also win in the latest
    // configuration of its log (thesis §4.1). Found by the simulator's commit safety check.
    this.tracker.electionVoters = membership.latestLogVoters(this);
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes().result === 'won') {
      // A single-voter cluster wins at once.
      if (t === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    const voters = this.tracker.config.voters.ids();
    for (const id of this.tracker.electionVoters?.ids() ?? []) voters.add(id);
    for (const id of [...voters].sort()) {
      if (id === this.id) continue;
      this.logger.info(
        `${this.id} [logterm: ${logTerm}, index: ${lastIndex}] sent ${type} request to ${id} at term ${this.term}`,
      );
      const m: MsgVote = {
        type,
        from: this.id,
        to: id,
        term,
        index: lastIndex,
        logTerm,
        transfer: t === 'transfer',
      };
      // A real vote request depends on the persisted term and self-vote; a pre-vote changes nothing.
      if (type === 'MsgVote') this.msgsAfterPersist.push(m);
      else this.msgs.push(m);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Step

  /** Processes one message from a peer. */
  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.from === this.id) throw new RaftError('StepLocalMsg', 'cannot step a message from self');
    if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        const inLease =
          this.cfg.checkQuorum &&
          this.lead !== null &&
          this.electionElapsed < this.cfg.electionTick;
        if (!m.transfer && inLease) {
          // Thesis §4.2.3: a node that hears from a current leader ignores disruptive votes.
          this.logger.info(
            `${this.id} [term: ${this.term}] ignored ${m.type} from ${m.from} at term ${m.term}: lease is not expired`,
          );
          return;
        }
      }
      if (m.type === 'MsgPreVote') {
        // Never change our term in response to a PreVote.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // A granted pre-vote carries the term we would campaign at; keep ours until we win.
      } else {
        this.logger.info(
          `${this.id} [term: ${this.term}] received a ${m.type} message with higher term from ${m.from} [term: ${m.term}]`,
        );
        if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, null);
        }
      }
    } else if (m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')
      ) {
        // A stale leader (e.g. after a partition) learns our term and steps down; without this it
        // could keep a partitioned node from ever rejoining under CheckQuorum/PreVote.
        this.send(
          {
            type: 'MsgAppResp',
            from: this.id,
            to: m.from,
            term: this.term,
            index: 0,
            reject: false,
            hintIndex: 0,
            hintTerm: 0,
          },
          false,
        );
      } else if (m.type === 'MsgPreVote') {
        this.send(
          { type: 'MsgPreVoteResp', from: this.id, to: m.from, term: this.term, reject: true },
          false,
        );
      }
      return;
    }

    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  /** @internal */
  handleVoteRequest(m: MsgVote): void {
    // §5.2/§5.4.1: grant if we have not voted for someone else in this term and the candidate's
    // log is at least as up-to-date as ours. A PreVote for a future term is judged on the log only.
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === 'MsgPreVote' && m.term > this.term);
    const respType = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.logger.info(`${this.id} cast ${m.type} for ${m.from} at term ${this.term}`);
      // The response carries the candidate's term, so a granted PreVote is recognisable.
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false }, true);
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.logger.info(`${this.id} rejected ${m.type} from ${m.from} at term ${this.term}`);
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true }, true);
    }
  }

  /** @internal */
  stepCandidate(m: Message): void {
    const myResp = this.role === 'preCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    switch (m.type) {
      case 'MsgApp':
        this.becomeFollower(m.term, m.from);
        replication.handleAppendEntries(this, m);
        return;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        replication.handleHeartbeat(this, m);
        return;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        snapshots.handleSnapshot(this, m);
        return;
      case 'MsgReadIndex':
        readIdx.rejectReadIndex(this, m.from, m.context);
        return;
      case 'MsgVoteResp':
      case 'MsgPreVoteResp': {
        if (m.type !== myResp) return;
        this.tracker.recordVote(m.from, !m.reject);
        const { granted, rejected, result } = this.tracker.tallyVotes();
        this.logger.info(
          `${this.id} has received ${granted} ${m.type} votes and ${rejected} vote rejections`,
        );
        if (result === 'won') {
          if (this.role === 'preCandidate') this.campaign('election');
          else {
            this.becomeLeader();
            replication.bcastAppend(this, true);
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, null);
        }
        return;
      }
      default:
        return;
    }
  }

  /** @internal */
  stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgApp':
        this.electionElapsed = 0;
        this.lead = m.from;
        replication.handleAppendEntries(this, m);
        return;
      case 'MsgHeartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        replication.handleHeartbeat(this, m);
        return;
      case 'MsgTimeoutNow':
        this.logger.info(
          `${this.id} [term ${this.term}] received MsgTimeoutNow from ${m.from} and starts an election`,
        );
        this.hup('transfer');
        return;
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.lead = m.from;
        snapshots.handleSnapshot(this, m);
        return;
      case 'MsgReadIndex':
        // Not the leader: the requester must retry elsewhere.
        readIdx.rejectReadIndex(this, m.from, m.context);
        return;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.reject ? -1 : m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  /** @internal */
  stepLeader(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    pr.lastHeardTick = this.ticksElapsed;
    switch (m.type) {
      case 'MsgAppResp':
        pr.recentActive = true;
        replication.handleAppendResponse(this, m);
        return;
      case 'MsgHeartbeatResp':
        replication.handleHeartbeatResponse(this, m);
        return;
      case 'MsgSnapResp':
        pr.recentActive = true;
        snapshots.handleSnapshotResponse(this, m, pr);
        return;
      case 'MsgReadIndex':
        readIdx.handleReadRequest(this, { from: m.from, context: m.context });
        return;
      default:
        return;
    }
  }

  /** §5.3/§5.4.2: commit the highest index on a quorum, but only counting entries of our term. */
  maybeCommit(): boolean {
    const mci = this.tracker.committed();
    if (
      mci > this.log.committed &&
      mci !== Number.POSITIVE_INFINITY &&
      this.log.term(mci) === this.term
    ) {
      this.log.commitTo(mci);
      if (this.pendingReads.length > 0) {
        const reads = this.pendingReads;
        this.pendingReads = [];
        for (const r of reads) readIdx.handleReadRequest(this, r);
      }
      return true;
    }
    return false;
  }

  hasPendingBcast(): boolean {
    return this.pendingBcast && this.role === 'leader';
  }

  /**
   * @internal Appends one entry of the current term after the last one; returns its index.
   * NB: one object per proposal, no intermediate arrays: this runs once per `propose()`.
   */
  appendEntry(type: EntryType, data: Uint8Array): Index {
    const index = this.log.lastIndex() + 1;
    this.log.appendLast({ index, term: this.term, type, data });
    this.pendingBcast = true;
    return index;
  }

  /**
   * Leader: appends a new entry. Throws {@link NotLeaderError} elsewhere.
   * Returns the entry's index and term (the proposal is committed iff an entry with this index
   * and term is ever applied).
   */
  propose(data: Uint8Array, type: EntryType = EntryType.Normal): { index: Index; term: Term } {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== null) {
      throw new RaftError(
        'LeadershipTransferInProgress',
        `leadership is being transferred to ${this.leadTransferee}`,
      );
    }
    const index = this.appendEntry(type, data);
    return { index, term: this.term };
  }

  /** Called by RawNode.advance after each Ready: leaves a joint configuration if due. */
  afterAdvance(): void {
    membership.maybeAutoLeaveJoint(this);
  }

  /** Called by RawNode.advance once entries up to (index, term) are durable. */
  onStable(index: Index, term: Term): void {
    this.log.stableTo(index, term);
    if (this.role === 'leader') {
      const self = this.tracker.progress.get(this.id);
      if (self?.maybeUpdate(this.log.stable)) this.maybeCommit();
    }
  }

  /**
   * Leader only: sends the entries appended since the last call to every follower that can take
   * them. Called once per Ready so that concurrent proposals travel in one MsgApp (group commit).
   */
  flushAppends(): void {
    replication.flushAppends(this);
  }

  /**
   * Requests a read index for `context`. The answer arrives as a {@link ReadState} in a later
   * Ready. Throws {@link NotLeaderError} if no leader is known.
   */
  readIndex(context: number): void {
    readIdx.readIndex(this, context);
  }

  /**
   * Records a snapshot taken by the driver (covering entries up to `s.meta.index` ≤ applied)
   * and compacts the in-memory log, keeping `keepEntries` entries behind it so slightly lagging
   * followers can still catch up from the log.
   */
  compact(s: Snapshot, keepEntries: number): void {
    snapshots.compact(this, s, keepEntries);
  }

  /**
   * Starts transferring leadership to `to`: proposals are refused meanwhile, `to` is brought up
   * to date, then told to campaign at once (MsgTimeoutNow). Aborted after an election timeout.
   */
  transferLeadership(to: NodeId): void {
    membership.transferLeadership(this, to);
  }

  /**
   * Leader: proposes a membership change. One change at a time: throws
   * `RaftError('ConfChangeInProgress')` while an earlier one is not applied, and
   * `RaftError('Unavailable')` if the new configuration would have no active quorum.
   */
  proposeConfChange(cc: ConfChange): { index: Index; term: Term } {
    return membership.proposeConfChange(this, cc);
  }

  /**
   * Applies a committed membership change (called by the driver when it applies the entry, in
   * log order). Returns the new configuration. An invalid change is ignored on every node alike.
   */
  applyConfChange(cc: ConfChange, index?: Index): ConfState {
    return membership.applyConfChange(this, cc, index);
  }
  /** Decodes a ConfChange entry (for the driver). */
  static decodeConfChange(e: Entry): ConfChange {
    return decodeConfChange(e.data);
  }

  /** @internal */
  send(m: Message, afterPersist: boolean): void {
    if (afterPersist) this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }
}

const EMPTY = new Uint8Array(0);
