import { applyChange, changeKind } from './confchange/changer.js';
import { decodeConfChange, encodeConfChange } from './confchange/codec.js';
import { type RaftConfig, type ResolvedRaftConfig, resolveConfig } from './config.js';
import { NotLeaderError, panic, RaftError } from './errors.js';
import { entrySize, RaftLog } from './log.js';
import type { Logger } from './logger.js';
import { ReadOnly, type ReadRequest } from './read-only.js';
import type { Progress } from './tracker/progress.js';
import {
  configFromConfState,
  confStateFromConfig,
  ProgressTracker,
} from './tracker/progress-tracker.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Index,
  type Message,
  type MsgApp,
  type MsgAppResp,
  type MsgHeartbeat,
  type MsgHeartbeatResp,
  type MsgReadIndexResp,
  type MsgSnap,
  type MsgSnapResp,
  type MsgVote,
  type NodeId,
  type Role,
  type Snapshot,
  type Term,
} from './types.js';

/** What a node starts from: its durable state as read from storage. */
export interface RaftState {
  readonly hardState: HardState;
  readonly confState: ConfState;
  /** The snapshot point the log starts after (index 0, term 0 for none). */
  readonly snapshotIndex: Index;
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
  readonly index: Index;
  readonly context: number;
}

type CampaignType = 'preElection' | 'election' | 'transfer';

/**
 * `Raft` is the role state machine of one replica (§5): follower, pre-candidate, candidate
 * and leader, with PreVote, CheckQuorum and pipelined replication. It is synchronous and does
 * no I/O; {@link RawNode} wraps it with the Ready/advance protocol.
 */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  private readonly logger: Logger;

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

  private readonly readOnly = new ReadOnly();
  /** Reads received before this leader committed an entry of its term (they must wait). */
  private pendingReads: ReadRequest[] = [];
  private readSeq = 0;
  /** Ticks since this node started (the leader's clock for leases). */
  private ticksElapsed = 0;
  /** Lease mode: tick at which the latest quorum-acknowledged heartbeat round was sent. */
  private leaseFrom = Number.NEGATIVE_INFINITY;
  /** Lease mode: send tick of each heartbeat round in flight. */
  private readonly roundSentAt = new Map<number, number>();
  /** A snapshot being received in chunks. */
  private incoming: IncomingSnapshot | null = null;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Leader: entries were appended (or the commit index moved) and followers should hear of it. */
  private pendingBcast = false;

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

  private reset(term: Term): void {
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
    this.roundSentAt.clear();
    this.failReads([...this.readOnly.reset(), ...this.pendingReads]);
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

  private resetRandomizedElectionTimeout(): void {
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
    this.appendEntries([{ index: 0, term: 0, type: EntryType.Normal, data: EMPTY }]);
    this.logger.info(`${this.id} became leader at term ${this.term}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Ticks

  tick(): void {
    this.ticksElapsed++;
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup('election');
    }
  }

  private tickHeartbeat(): void {
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
      if (this.cfg.readOnly === 'lease') this.startLeaseRound([]);
      else this.bcastHeartbeat();
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
      if (e?.type === EntryType.ConfChange && !this.isNoopConfChange(e)) {
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

  private campaign(t: CampaignType): void {
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
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes().result === 'won') {
      // A single-voter cluster wins at once.
      if (t === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of [...this.tracker.config.voters.ids()].sort()) {
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

  private handleVoteRequest(m: MsgVote): void {
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

  private stepCandidate(m: Message): void {
    const myResp = this.role === 'preCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    switch (m.type) {
      case 'MsgApp':
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'MsgReadIndex':
        this.rejectReadIndex(m.from, m.context);
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
            this.bcastAppend(true);
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

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgApp':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case 'MsgHeartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
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
        this.handleSnapshot(m);
        return;
      case 'MsgReadIndex':
        // Not the leader: the requester must retry elsewhere.
        this.rejectReadIndex(m.from, m.context);
        return;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.reject ? -1 : m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    pr.lastHeardTick = this.ticksElapsed;
    switch (m.type) {
      case 'MsgAppResp':
        pr.recentActive = true;
        this.handleAppendResponse(m);
        return;
      case 'MsgHeartbeatResp':
        this.handleHeartbeatResponse(m);
        return;
      case 'MsgSnapResp':
        pr.recentActive = true;
        this.handleSnapshotResponse(m, pr);
        return;
      case 'MsgReadIndex':
        this.handleReadRequest({ from: m.from, context: m.context });
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Follower side of replication

  private handleAppendEntries(m: MsgApp): void {
    if (m.index < this.log.committed) {
      // Everything up to our commit index is known to match; tell the leader so.
      this.send(this.appResp(m.from, this.log.committed), true);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.send(this.appResp(m.from, lastNew), true);
      return;
    }
    // Mismatch: hint the leader at the last entry that could possibly match (fast backtracking).
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.logger.debug(
      `${this.id} [logterm: ${this.log.term(m.index) ?? 0}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from}`,
    );
    this.send(
      {
        type: 'MsgAppResp',
        from: this.id,
        to: m.from,
        term: this.term,
        index: m.index,
        reject: true,
        hintIndex: hint.index,
        hintTerm: hint.term,
      },
      true,
    );
  }

  private appResp(to: NodeId, index: Index): MsgAppResp {
    return {
      type: 'MsgAppResp',
      from: this.id,
      to,
      term: this.term,
      index,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
    };
  }

  private handleHeartbeat(m: MsgHeartbeat): void {
    // The leader caps the commit index at our match, so it is safe to apply (§5.3).
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    const r: MsgHeartbeatResp = {
      type: 'MsgHeartbeatResp',
      from: this.id,
      to: m.from,
      term: this.term,
      context: m.context,
    };
    this.send(r, false);
  }

  // ---------------------------------------------------------------------------------------------
  // Leader side of replication

  private handleAppendResponse(m: MsgAppResp): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    if (m.reject) {
      this.logger.debug(
        `${this.id} received MsgAppResp(rejected, hint: (index ${m.hintIndex}, term ${m.hintTerm})) from ${m.from} for index ${m.index}`,
      );
      let next = m.hintIndex;
      if (m.hintTerm > 0) {
        // Skip every entry of ours that cannot match the follower's log (thesis §5.3).
        next = this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
      }
      if (pr.maybeDecrTo(m.index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppend(m.from, false);
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe();
    else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

    // NB: followers learn a new commit index with the next append or heartbeat, not with a
    // dedicated message: it halves the messages per proposal when proposals are sequential.
    this.maybeCommit();
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.logger.info(`${this.id} sent MsgTimeoutNow to ${m.from} after it caught up`);
      this.sendTimeoutNow(m.from);
    }
    // Keep the pipe full.
    while (this.sendAppend(m.from, false)) {
      /* send as much as flow control allows */
    }
  }

  private handleHeartbeatResponse(m: MsgHeartbeatResp): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.context !== 0) this.handleReadAck(m.context, m.from);
    if (pr.state === 'snapshot') {
      // Go-back-N: if the transfer made no progress since the last heartbeat, resend from the
      // last acknowledged offset (chunks may have been lost).
      if (pr.snapAcked === pr.snapAckedAtHeartbeat) {
        if (pr.snapAcked >= (this.snapshot?.data.byteLength ?? 0)) {
          // Every byte arrived but the follower's final answer was lost: probe where it is.
          pr.becomeProbe();
          this.sendAppend(m.from, true);
          return;
        }
        pr.snapSent = pr.snapAcked;
      }
      pr.snapAckedAtHeartbeat = pr.snapAcked;
      this.sendSnapshotChunks(m.from, pr);
      return;
    }
    pr.probeSent = false;
    // NB: if the window is full its MsgApps may all have been lost; free one so that another
    // append goes out. A gap makes the follower reject it, and the leader falls back to probing.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
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
        for (const r of reads) this.handleReadRequest(r);
      }
      return true;
    }
    return false;
  }

  /**
   * Sends entries from `pr.next` to `to` if flow control allows. With `sendIfEmpty`, a MsgApp
   * without entries is sent too (to probe or to carry the commit index). Returns true if sent.
   */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      // The entries the follower needs were compacted: it must catch up from a snapshot.
      this.startSnapshot(to, pr);
      return false;
    }
    const ents = this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxSizePerMsg);
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entrySize(e);
    const m: MsgApp = {
      type: 'MsgApp',
      from: this.id,
      to,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.log.committed,
    };
    if (ents.length > 0) pr.sentEntries((ents[ents.length - 1] as Entry).index, bytes);
    else if (pr.state === 'probe') pr.probeSent = true;
    this.send(m, false);
    return ents.length > 0;
  }

  /** Sends appends to every follower that can take them. */
  private bcastAppend(sendIfEmpty: boolean): void {
    for (const id of this.tracker.progress.keys()) {
      if (id !== this.id) this.sendAppend(id, sendIfEmpty);
    }
  }

  private bcastHeartbeat(context = 0): void {
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      const m: MsgHeartbeat = {
        type: 'MsgHeartbeat',
        from: this.id,
        to: id,
        term: this.term,
        commit: Math.min(pr.match, this.log.committed),
        context,
      };
      this.send(m, false);
    }
  }

  /**
   * Leader only: sends the entries appended since the last call to every follower that can take
   * them. Called once per Ready so that concurrent proposals travel in one MsgApp (group commit).
   */
  flushAppends(): void {
    if (this.pendingBcast && this.role === 'leader') {
      for (const id of this.tracker.progress.keys()) {
        if (id === this.id) continue;
        while (this.sendAppend(id, false)) {
          /* pipeline as far as flow control allows */
        }
      }
    }
    this.pendingBcast = false;
  }

  hasPendingBcast(): boolean {
    return this.pendingBcast && this.role === 'leader';
  }

  private appendEntries(ents: readonly Entry[]): Index {
    let li = this.log.lastIndex();
    const stamped: Entry[] = ents.map((e) => {
      li++;
      return { index: li, term: this.term, type: e.type, data: e.data };
    });
    this.log.append(stamped);
    this.pendingBcast = true;
    return li;
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
    const index = this.appendEntries([{ index: 0, term: 0, type, data }]);
    return { index, term: this.term };
  }

  /** Called by RawNode.advance once entries up to (index, term) are durable. */
  onStable(index: Index, term: Term): void {
    this.log.stableTo(index, term);
    if (this.role === 'leader') {
      const self = this.tracker.progress.get(this.id);
      if (self?.maybeUpdate(this.log.stable)) this.maybeCommit();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Linearizable reads (thesis §6.4)

  /**
   * Requests a read index for `context`. The answer arrives as a {@link ReadState} in a later
   * Ready. Throws {@link NotLeaderError} if no leader is known.
   */
  readIndex(context: number): void {
    if (this.role === 'leader') {
      this.handleReadRequest({ from: this.id, context });
      return;
    }
    if (this.lead === null) throw new NotLeaderError(null);
    this.send(
      { type: 'MsgReadIndex', from: this.id, to: this.lead, term: this.term, context },
      false,
    );
  }

  private handleReadRequest(req: ReadRequest): void {
    if (this.role !== 'leader') {
      this.failReads([req]);
      return;
    }
    // §6.4 step 1: until the leader commits an entry of its own term it does not know the
    // latest commit index; hold the read until then.
    if (this.log.term(this.log.committed) !== this.term) {
      this.pendingReads.push(req);
      return;
    }
    const index = this.log.committed;
    if (this.tracker.isSingleton(this.id) || this.leaseValid()) {
      // A single voter is a quorum by itself; a valid lease stands for a fresh round.
      this.respondRead(req, index);
      return;
    }
    if (this.cfg.readOnly === 'lease') {
      this.startLeaseRound([req]);
      return;
    }
    const id = ++this.readSeq;
    this.readOnly.add(id, index, [req], this.id);
    this.bcastHeartbeat(id);
  }

  /**
   * Lease mode: a follower that received a heartbeat sent at tick T grants no vote to anyone
   * else before T + electionTick of its own ticks (CheckQuorum's lease). So while fewer than
   * `electionTick - 2` of our ticks have passed since a round a quorum acknowledged was sent,
   * no other leader can exist — assuming clocks tick at the same rate (the 2 ticks absorb tick
   * phase differences, not drift).
   */
  private leaseValid(): boolean {
    // A transfer lets the target campaign without waiting for followers' leases: no lease then.
    return (
      this.cfg.readOnly === 'lease' &&
      this.leadTransferee === null &&
      this.ticksElapsed - this.leaseFrom < this.cfg.electionTick - 2
    );
  }

  private startLeaseRound(reqs: ReadRequest[]): void {
    const id = ++this.readSeq;
    this.roundSentAt.set(id, this.ticksElapsed);
    this.readOnly.add(id, this.log.committed, reqs, this.id);
    this.bcastHeartbeat(id);
  }

  private handleReadAck(id: number, from: NodeId): void {
    const acks = this.readOnly.recvAck(id, from);
    if (acks === undefined) return;
    if (this.tracker.config.voters.voteResult((v) => acks.has(v)) !== 'won') return;
    const sent = this.roundSentAt.get(id);
    if (sent !== undefined && sent > this.leaseFrom) this.leaseFrom = sent;
    for (const round of this.readOnly.advance(id)) {
      this.roundSentAt.delete(round.id);
      for (const req of round.requests) this.respondRead(req, round.index);
    }
  }

  private respondRead(req: ReadRequest, index: Index): void {
    if (req.from === this.id) {
      this.readStates.push({ index, context: req.context });
      return;
    }
    const m: MsgReadIndexResp = {
      type: 'MsgReadIndexResp',
      from: this.id,
      to: req.from,
      term: this.term,
      context: req.context,
      index,
      reject: false,
    };
    this.send(m, false);
    // The follower must learn that `index` is committed before it can serve the read.
    this.sendAppend(req.from, true);
  }

  private rejectReadIndex(to: NodeId, context: number): void {
    this.send(
      {
        type: 'MsgReadIndexResp',
        from: this.id,
        to,
        term: this.term,
        context,
        index: 0,
        reject: true,
      },
      false,
    );
  }

  private failReads(reqs: readonly ReadRequest[]): void {
    for (const r of reqs) {
      if (r.from === this.id) this.readStates.push({ index: -1, context: r.context });
      else this.rejectReadIndex(r.from, r.context);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Leadership transfer (thesis §3.10)

  /**
   * Starts transferring leadership to `to`: proposals are refused meanwhile, `to` is brought up
   * to date, then told to campaign at once (MsgTimeoutNow). Aborted after an election timeout.
   */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (to === this.id) return;
    if (!this.tracker.isVoter(to)) {
      throw new RaftError('InvalidArgument', `cannot transfer leadership to ${to}: not a voter`);
    }
    if (this.leadTransferee === to) return;
    this.logger.info(`${this.id} [term ${this.term}] starts to transfer leadership to ${to}`);
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.tracker.progress.get(to) as Progress;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'MsgTimeoutNow', from: this.id, to, term: this.term }, false);
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots (thesis §5)

  private startSnapshot(to: NodeId, pr: Progress): void {
    const snap = this.snapshot;
    if (snap === null)
      panic(`${this.id}: entries for ${to} were compacted but there is no snapshot`);
    this.logger.info(`${this.id} starts sending snapshot at ${snap.meta.index} to ${to}`);
    pr.becomeSnapshot(snap.meta.index);
    this.sendSnapshotChunks(to, pr);
  }

  /** Sends snapshot chunks to `to` while the window (in bytes) allows. */
  private sendSnapshotChunks(to: NodeId, pr: Progress): void {
    const snap = this.snapshot;
    if (snap === null || pr.state !== 'snapshot' || snap.meta.index !== pr.pendingSnapshot) {
      if (pr.state === 'snapshot') pr.becomeProbe();
      return;
    }
    const total = snap.data.byteLength;
    const window = this.cfg.snapshotChunkSize * this.cfg.snapshotWindow;
    do {
      const offset = pr.snapSent;
      if (offset > total || (offset === total && total > 0) || offset - pr.snapAcked >= window) {
        break;
      }
      pr.snapSent = this.sendSnapshotChunk(to, offset);
      if (total === 0) break;
    } while (pr.snapSent < total);
  }

  /** Sends the chunk of the current snapshot starting at `offset`; returns where it ends. */
  private sendSnapshotChunk(to: NodeId, offset: number): number {
    const snap = this.snapshot as Snapshot;
    const total = snap.data.byteLength;
    const end = Math.min(total, offset + this.cfg.snapshotChunkSize);
    const m: MsgSnap = {
      type: 'MsgSnap',
      from: this.id,
      to,
      term: this.term,
      meta: snap.meta,
      offset,
      totalBytes: total,
      data: snap.data.subarray(offset, end),
      done: end === total,
    };
    this.send(m, false);
    return end;
  }

  private handleSnapshotResponse(m: MsgSnapResp, pr: Progress): void {
    if (pr.state !== 'snapshot' || m.index !== pr.pendingSnapshot) return;
    if (m.reject) {
      this.logger.info(`${this.id}: ${m.from} rejected snapshot ${m.index}; probing again`);
      pr.becomeProbe();
      return;
    }
    // `offset` is the next byte the follower wants.
    if (m.offset === 0 && pr.snapAcked > 0) {
      // The follower lost the partial snapshot (it restarted): start over.
      pr.snapAcked = 0;
      pr.snapSent = 0;
      pr.snapRewoundAt = -1;
    } else if (m.offset < pr.snapAcked) {
      return; // a stale, reordered acknowledgement
    } else if (m.offset === pr.snapAcked) {
      // A duplicate acknowledgement: a later chunk arrived before the one at `offset` (the
      // follower buffers it), or that one was lost. After two, resend just that chunk, once
      // per offset (fast retransmit); resending whole windows on duplicates makes each resent
      // window cause more duplicates (a storm). Longer stalls are retried per heartbeat.
      pr.snapDupAcks++;
      if (pr.snapDupAcks < 2 || pr.snapRewoundAt === m.offset || m.offset >= pr.snapSent) return;
      pr.snapRewoundAt = m.offset;
      this.sendSnapshotChunk(m.from, m.offset);
      return;
    } else {
      pr.snapAcked = m.offset;
      pr.snapDupAcks = 0;
      if (pr.snapSent < m.offset) pr.snapSent = m.offset;
    }
    this.sendSnapshotChunks(m.from, pr);
  }

  private handleSnapshot(m: MsgSnap): void {
    const meta = m.meta;
    const reply = (offset: number, reject = false): void => {
      const r: MsgSnapResp = {
        type: 'MsgSnapResp',
        from: this.id,
        to: m.from,
        term: this.term,
        index: meta.index,
        offset,
        reject,
      };
      this.send(r, false);
    };
    if (meta.index <= this.log.committed) {
      // We already have everything the snapshot covers: tell the leader where we are.
      this.incoming = null;
      reply(m.totalBytes);
      this.send(this.appResp(m.from, this.log.committed), true);
      return;
    }
    let inc = this.incoming;
    if (
      inc === null ||
      inc.meta.index !== meta.index ||
      inc.meta.term !== meta.term ||
      inc.leaderTerm !== m.term
    ) {
      if (m.offset !== 0) {
        reply(0);
        return;
      }
      inc = {
        meta,
        leaderTerm: m.term,
        total: m.totalBytes,
        received: 0,
        chunks: [],
        ahead: new Map(),
      };
      this.incoming = inc;
    }
    if (m.offset + m.data.byteLength > inc.total) {
      reply(inc.received);
      return;
    }
    if (m.offset !== inc.received) {
      // Out of order: keep a bounded number of chunks ahead of the gap (reordering is not
      // loss), and tell the leader where the gap is.
      if (m.offset > inc.received && inc.ahead.size < 64) inc.ahead.set(m.offset, m.data);
      reply(inc.received);
      return;
    }
    inc.chunks.push(m.data);
    inc.received += m.data.byteLength;
    for (
      let next = inc.ahead.get(inc.received);
      next !== undefined;
      next = inc.ahead.get(inc.received)
    ) {
      inc.ahead.delete(inc.received);
      inc.chunks.push(next);
      inc.received += next.byteLength;
    }
    for (const off of inc.ahead.keys()) if (off < inc.received) inc.ahead.delete(off);
    if (inc.received < inc.total) {
      reply(inc.received);
      return;
    }
    this.incoming = null;
    const data = concat(inc.chunks, inc.total);
    reply(inc.total);
    if (this.restore({ meta, data })) {
      this.logger.info(`${this.id} restored snapshot [index: ${meta.index}, term: ${meta.term}]`);
      this.send(this.appResp(m.from, this.log.lastIndex()), true);
    } else {
      this.send(this.appResp(m.from, this.log.committed), true);
    }
  }

  /** Follower: installs `s` unless the log already covers it. Returns true if installed. */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // Our log has the snapshot's last entry: everything up to it is committed; keep the rest.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.snapshot = s;
    this.tracker.setConfig(configFromConfState(s.meta.confState), this.log.lastIndex() + 1);
    return true;
  }

  /**
   * Records a snapshot taken by the driver (covering entries up to `s.meta.index` ≤ applied)
   * and compacts the in-memory log, keeping `keepEntries` entries behind it so slightly lagging
   * followers can still catch up from the log.
   */
  compact(s: Snapshot, keepEntries: number): void {
    if (s.meta.index > this.log.applied)
      panic(`snapshot ${s.meta.index} is beyond applied ${this.log.applied}`);
    if (this.snapshot === null || s.meta.index > this.snapshot.meta.index) this.snapshot = s;
    const to = Math.max(this.log.snapshotIndex(), s.meta.index - keepEntries);
    // NB: a follower may still be receiving an older snapshot; it keeps being sent the one in
    // its progress until it restarts from the new one (sendSnapshotChunks checks the index).
    this.log.compact(to);
  }

  // ---------------------------------------------------------------------------------------------
  // Membership changes (thesis §4)

  /**
   * Leader: proposes a membership change. One change at a time: throws
   * `RaftError('ConfChangeInProgress')` while an earlier one is not applied, and
   * `RaftError('Unavailable')` if the new configuration would have no active quorum.
   */
  proposeConfChange(cc: ConfChange): { index: Index; term: Term } {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== null) {
      throw new RaftError(
        'LeadershipTransferInProgress',
        `leadership is being transferred to ${this.leadTransferee}`,
      );
    }
    if (this.pendingConfIndex > this.log.applied) {
      throw new RaftError(
        'ConfChangeInProgress',
        `conf change at ${this.pendingConfIndex} is not applied yet`,
      );
    }
    const cfg = this.tracker.config;
    if (cfg.voters.isJoint && changeKind(cc) !== 'leaveJoint') {
      throw new RaftError(
        'ConfChangeInProgress',
        'in a joint configuration: only leaving it is allowed',
      );
    }
    const next = applyChange(cfg, cc); // throws InvalidArgument
    // Guard: the new configuration must have a quorum of recently active voters, or the
    // cluster would be stuck (thesis §4.2.2 availability).
    // NB: not `recentActive`, which CheckQuorum clears at every election timeout.
    const active = (id: NodeId): boolean => {
      if (id === this.id) return true;
      const pr = this.tracker.progress.get(id);
      return pr !== undefined && this.ticksElapsed - pr.lastHeardTick <= this.cfg.electionTick;
    };
    if (next.voters.voteResult(active) !== 'won') {
      throw new RaftError('Unavailable', 'the new configuration would not have an active quorum');
    }
    const r = this.propose(encodeConfChange(cc), EntryType.ConfChange);
    this.pendingConfIndex = r.index;
    return r;
  }

  /**
   * Applies a committed membership change (called by the driver when it applies the entry, in
   * log order). Returns the new configuration. An invalid change is ignored on every node alike.
   */
  applyConfChange(cc: ConfChange): ConfState {
    let next: ReturnType<typeof applyChange>;
    try {
      next = applyChange(this.tracker.config, cc);
    } catch (e) {
      this.logger.warn(`${this.id} ignored an invalid conf change`, { error: String(e) });
      return confStateFromConfig(this.tracker.config);
    }
    this.tracker.setConfig(next, this.log.lastIndex() + 1, this.ticksElapsed);
    const cs = confStateFromConfig(next);
    this.logger.info(`${this.id} switched to configuration ${JSON.stringify(cs)}`);
    if (this.role === 'leader') {
      if (!this.tracker.isVoter(this.id)) {
        // Thesis §4.2.2: a leader removed from the configuration steps down once it is committed.
        this.logger.info(`${this.id} steps down: no longer a voter`);
        this.becomeFollower(this.term, null);
        return cs;
      }
      const self = this.tracker.progress.get(this.id);
      if (self !== undefined) self.match = Math.max(self.match, this.log.stable);
      if (this.leadTransferee !== null && !this.tracker.isVoter(this.leadTransferee))
        this.leadTransferee = null;
      this.maybeCommit();
      this.pendingBcast = true;
      if (next.voters.isJoint && next.autoLeave && this.pendingConfIndex <= this.log.applied + 1) {
        // Leave the joint configuration as soon as entering it is applied (thesis §4.3).
        const r = this.propose(encodeConfChange({ changes: [] }), EntryType.ConfChange);
        this.pendingConfIndex = r.index;
      }
    }
    return cs;
  }

  /** True if applying the ConfChange entry `e` would leave the configuration as it is. */
  private isNoopConfChange(e: Entry): boolean {
    try {
      return applyChange(this.tracker.config, decodeConfChange(e.data)) === this.tracker.config;
    } catch {
      return true; // an invalid change is ignored when applied
    }
  }

  /** Decodes a ConfChange entry (for the driver). */
  static decodeConfChange(e: Entry): ConfChange {
    return decodeConfChange(e.data);
  }

  private send(m: Message, afterPersist: boolean): void {
    if (afterPersist) this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }
}

const EMPTY = new Uint8Array(0);

/** A snapshot being received in chunks. */
interface IncomingSnapshot {
  readonly meta: Snapshot['meta'];
  readonly leaderTerm: Term;
  readonly total: number;
  received: number;
  readonly chunks: Uint8Array[];
  /** Chunks that arrived ahead of `received`, by offset (bounded). */
  readonly ahead: Map<number, Uint8Array>;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
