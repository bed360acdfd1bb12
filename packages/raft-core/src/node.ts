import { encodeConfChange } from './confchange/codec.js';
import { ProposalTracker } from './driver/proposals.js';
import { rateLimitedLogger } from './driver/rate-limited-logger.js';
import { ReadTracker } from './driver/reads.js';
import { TransferTracker } from './driver/transfers.js';
import { FatalError, NotLeaderError, RaftError } from './errors.js';
import { type Logger, noopLogger } from './logger.js';
import type {
  Clock,
  LogStorage,
  StateMachine,
  StorageWrite,
  TimerHandle,
  Transport,
} from './ports.js';
import { Raft } from './raft.js';
import { type PeerProgress, RawNode, type RawStatus, type Ready } from './raw-node.js';
import {
  type ConfChange,
  type ConfState,
  EMPTY_CONF_STATE,
  type Entry,
  EntryType,
  type Index,
  type Message,
  type NodeId,
  type Role,
  type Snapshot,
  type Term,
} from './types.js';

/** Options of {@link RaftNode.start}. */
export interface RaftNodeOptions<R> {
  /** This node's id, unique in the cluster. */
  readonly id: NodeId;
  /** Where the log, hard state and snapshots live (e.g. `SqliteLogStorage`). */
  readonly storage: LogStorage;
  /** How messages reach the other nodes (e.g. `WsTransport`). */
  readonly transport: Transport;
  /** The replicated application; its `apply` results resolve `propose()`. */
  readonly stateMachine: StateMachine<R>;
  /**
   * The voters of a brand-new cluster. Used only when `storage` is empty; every founding member
   * must be started with the same list. Omit it for a node that will be added to an existing
   * cluster by a membership change.
   */
  readonly bootstrap?: readonly NodeId[];
  /** Milliseconds per tick. Default 100 (so heartbeats every 100 ms, elections after 1–2 s). */
  readonly tickMs?: number;
  /** Ticks without a leader before an election (randomized in [n, 2n)). Default 10. */
  readonly electionTick?: number;
  /** Ticks between the leader's heartbeats. Default 1. */
  readonly heartbeatTick?: number;
  /**
   * Run a PreVote round before an election, so a rejoining node cannot disrupt (thesis §9.6).
   * Default true.
   */
  readonly preVote?: boolean;
  /** A leader that has not heard from a quorum for an election timeout steps down. Default true. */
  readonly checkQuorum?: boolean;
  /** Byte limit of the entries in one append message. Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Unacknowledged append messages in flight per follower. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Unacknowledged entry bytes in flight per follower (0 = no limit). Default 32 MiB. */
  readonly maxInflightBytes?: number;
  /** How reads confirm leadership; see `RaftConfig.readOnly`. Default `'safe'`. */
  readonly readOnly?: 'safe' | 'lease';
  /** Reject a `read()` not served after this long (`Timeout`). Default 2 election timeouts. */
  readonly readTimeoutMs?: number;
  /**
   * Reject a proposal (or membership change) whose entry was not applied on this node after
   * this long with `OutcomeUnknown` (it may still commit elsewhere: a partitioned or removed
   * node cannot tell). Default 5 election timeouts.
   */
  readonly proposalTimeoutMs?: number;
  /** Take a snapshot after this many applied entries (0 = never). Default 10,000. */
  readonly snapshotEntries?: number;
  /**
   * Also take a snapshot once the entries applied since the last one hold this many payload
   * bytes (0 = no byte limit). Default 64 MiB. Whichever limit is reached first triggers.
   */
  readonly snapshotBytes?: number;
  /** Entries kept in memory behind a snapshot for lagging followers. Default 1,000. */
  readonly snapshotKeepEntries?: number;
  /** Bytes per InstallSnapshot chunk. Default 256 KiB. */
  readonly snapshotChunkSize?: number;
  /** fsync each write (default true). `false` trades durability for speed: tests only. */
  readonly sync?: boolean;
  /** Drives ticks and timeouts. Default {@link systemClock}; tests pass a fake one. */
  readonly clock?: Clock;
  /** Randomness for election timeouts. Default `Math.random`. */
  readonly random?: () => number;
  /**
   * Where the node logs. Default silent: pass `console` to see refusals and elections. A
   * warning or error identical to one logged less than a minute ago is counted, not repeated
   * (see {@link rateLimitedLogger}).
   */
  readonly logger?: Logger;
}

/** What {@link RaftNode.status} reports. */
export interface NodeStatus extends RawStatus {
  /** Set once the node stopped; `failure` holds the fatal error if it failed. */
  readonly stopped: boolean;
  /** The fatal error that stopped the node, or null. */
  readonly failure: Error | null;
}

/** Events emitted by a {@link RaftNode}. */
export interface RaftNodeEvents {
  /** This node's role changed (`role`, in `term`). */
  roleChange: {
    /** The new role. */
    readonly role: Role;
    /** The term it took the role in. */
    readonly term: Term;
  };
  /** The leader this node knows of changed (`leader` is null while unknown). */
  leaderChange: {
    /** The new leader, or null while none is known. */
    readonly leader: NodeId | null;
    /** The term of that leadership. */
    readonly term: Term;
  };
  /** The node hit a fatal storage/transport/state machine error and stopped. */
  error: Error;
  /**
   * A snapshot is durable: one this node took (`installed: false`) or one it installed from the
   * leader (`installed: true`).
   */
  snapshot: {
    /** The last log index the snapshot covers. */
    readonly index: Index;
    /** Size of its data. */
    readonly bytes: number;
    /** True if it came from the leader, false if this node took it. */
    readonly installed: boolean;
  };
}

type Listener<T> = (payload: T) => void;

/**
 * The durable write that founds a cluster: the initial configuration both as the conf state and
 * as a committed ConfChange entry at index 1, term 1 — identical on every founder, so that a
 * node added later rebuilds the membership by replaying the log (as etcd's bootstrap does).
 */
export function bootstrapWrite(voters: readonly NodeId[]): StorageWrite {
  const sorted = [...new Set(voters)].sort();
  const confState: ConfState = { ...EMPTY_CONF_STATE, voters: sorted };
  const entry: Entry = {
    index: 1,
    term: 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({ changes: sorted.map((node) => ({ op: 'addVoter' as const, node })) }),
  };
  return { entries: [entry], hardState: { term: 1, vote: null, commit: 1 }, confState };
}

/** The real-time clock: `setInterval` and `performance.now()`. */
export const systemClock: Clock = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
  now: () => performance.now(),
};

function withContext(changes: ConfChange['changes'], context: string | undefined): ConfChange {
  return context === undefined ? { changes } : { changes, context };
}

function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/**
 * `RaftNode` drives a {@link RawNode}: a clock ticks it, the transport steps it, and a single
 * loop drains each `Ready` into storage, transport and state machine (see `Ready` for the order).
 * Proposals made while a write is in flight are batched into the next write (group commit).
 *
 * Every promise it hands out settles exactly once (`driver/`: proposals, reads, transfers);
 * storage writes go through one queue, so a snapshot saved in the background never overlaps
 * (or overtakes) the log writes of the loop — except `LogStorage.stageSnapshot`, which writes a
 * snapshot's data beside the queue so that a large snapshot does not pause the log.
 */
export class RaftNode<R = unknown> {
  /** This node's id. */
  readonly id: NodeId;
  private readonly raw: RawNode;
  private readonly storage: LogStorage;
  private readonly transport: Transport;
  private readonly sm: StateMachine<R>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly sync: boolean;
  private readonly tickMs: number;
  private timer: TimerHandle | null = null;
  private readonly electionTick: number;
  private readonly readTimeoutTicks: number;
  private readonly proposalTimeoutMs: number;
  private readonly proposalTimeoutTicks: number;
  private readonly snapshotEntries: number;
  private readonly snapshotBytes: number;
  private readonly snapshotKeepEntries: number;
  private readonly proposals = new ProposalTracker<R>();
  private readonly reads: ReadTracker;
  private readonly transfers = new TransferTracker();
  /** Payload bytes applied since the last snapshot was taken. */
  private bytesSinceSnapshot = 0;
  private ticks = 0;
  /** Highest snapshot index in storage (taken here or installed from the leader). */
  private lastSnapshotIndex: Index = 0;
  /** Index of the snapshot being taken in the background, or -1. */
  private snapshotInProgress: Index = -1;
  private snapshotTask: Promise<void> = Promise.resolve();
  /** Tail of the storage write queue (never rejects). */
  private storageTail: Promise<void> = Promise.resolve();
  private readonly listeners: { [K in keyof RaftNodeEvents]: Set<Listener<RaftNodeEvents[K]>> } = {
    roleChange: new Set(),
    leaderChange: new Set(),
    error: new Set(),
    snapshot: new Set(),
  };
  private looping = false;
  private loopDone: Promise<void> = Promise.resolve();
  private stopped = false;
  private failure: Error | null = null;
  private lastRole: Role = 'follower';
  private lastLeader: NodeId | null = null;

  private constructor(opts: RaftNodeOptions<R>, raw: RawNode) {
    this.id = opts.id;
    this.raw = raw;
    this.storage = opts.storage;
    this.transport = opts.transport;
    this.sm = opts.stateMachine;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? noopLogger;
    this.sync = opts.sync ?? true;
    this.tickMs = opts.tickMs ?? 100;
    this.electionTick = opts.electionTick ?? 10;
    const electionMs = this.electionTick * this.tickMs;
    this.readTimeoutTicks = this.msToTicks(opts.readTimeoutMs ?? 2 * electionMs);
    this.proposalTimeoutMs = opts.proposalTimeoutMs ?? 5 * electionMs;
    this.proposalTimeoutTicks = this.msToTicks(this.proposalTimeoutMs);
    this.snapshotEntries = opts.snapshotEntries ?? 10_000;
    this.snapshotBytes = opts.snapshotBytes ?? 64 * 1024 * 1024;
    this.snapshotKeepEntries = opts.snapshotKeepEntries ?? 1_000;
    this.lastSnapshotIndex = raw.raft.log.snapshotIndex();
    this.reads = new ReadTracker(opts.random ?? Math.random);
  }

  private msToTicks(ms: number): number {
    return Math.max(1, Math.ceil(ms / this.tickMs));
  }

  /**
   * Loads durable state from `storage`, restores the state machine, starts the transport and
   * the clock. Rejects with `RaftError('InvalidArgument')` for a node with neither state nor
   * `bootstrap`... (a node that is to be added later may start empty and wait).
   */
  static async start<R>(options: RaftNodeOptions<R>): Promise<RaftNode<R>> {
    // One rate-limited logger for the driver and the core: a condition that repeats (a peer
    // that keeps sending what cannot be stepped, a quorum that stays unreachable) logs once a
    // minute with a count, not once per message. Timed by the node's clock (deterministic).
    const clock = options.clock ?? systemClock;
    const opts: RaftNodeOptions<R> =
      options.logger === undefined
        ? options
        : { ...options, logger: rateLimitedLogger(options.logger, { now: () => clock.now() }) };
    if (opts.tickMs !== undefined && !(opts.tickMs > 0)) {
      throw new RaftError('InvalidArgument', 'tickMs must be positive');
    }
    const storage = opts.storage;
    let init = await storage.initialState();
    const fresh =
      init.lastIndex === 0 &&
      init.snapshot === null &&
      init.hardState.term === 0 &&
      init.confState.voters.length === 0;
    if (fresh && opts.bootstrap !== undefined) {
      const voters = [...new Set(opts.bootstrap)].sort();
      if (voters.length === 0 || !voters.includes(opts.id)) {
        throw new RaftError(
          'InvalidArgument',
          `bootstrap voters must be non-empty and include ${opts.id}`,
        );
      }
      await storage.save(bootstrapWrite(voters), true);
      init = await storage.initialState();
    }
    let snapshotIndex = 0;
    let snapshotTerm = 0;
    let snapshot: Snapshot | null = null;
    if (init.snapshot !== null) {
      snapshot = await storage.snapshot();
      if (snapshot === null) {
        throw new RaftError('Storage', 'storage reports a snapshot but returned none');
      }
      await opts.stateMachine.restore(snapshot.data);
      snapshotIndex = snapshot.meta.index;
      snapshotTerm = snapshot.meta.term;
    }
    const entries =
      init.lastIndex >= init.firstIndex
        ? await storage.entries(init.firstIndex, init.lastIndex + 1)
        : [];
    const raw = new RawNode(
      {
        id: opts.id,
        random: opts.random ?? Math.random,
        logger: opts.logger ?? noopLogger,
        ...(opts.electionTick !== undefined && { electionTick: opts.electionTick }),
        ...(opts.heartbeatTick !== undefined && { heartbeatTick: opts.heartbeatTick }),
        ...(opts.preVote !== undefined && { preVote: opts.preVote }),
        ...(opts.checkQuorum !== undefined && { checkQuorum: opts.checkQuorum }),
        ...(opts.maxSizePerMsg !== undefined && { maxSizePerMsg: opts.maxSizePerMsg }),
        ...(opts.maxInflightMsgs !== undefined && { maxInflightMsgs: opts.maxInflightMsgs }),
        ...(opts.maxInflightBytes !== undefined && { maxInflightBytes: opts.maxInflightBytes }),
        ...(opts.readOnly !== undefined && { readOnly: opts.readOnly }),
        ...(opts.snapshotChunkSize !== undefined && { snapshotChunkSize: opts.snapshotChunkSize }),
      },
      {
        hardState: init.hardState,
        confState: init.confState,
        snapshotIndex,
        snapshotTerm,
        entries,
        snapshot,
      },
    );
    const node = new RaftNode<R>(opts, raw);
    await opts.transport.start((m) => node.receive(m));
    node.timer = node.clock.setInterval(() => node.onTick(), node.tickMs);
    node.kick();
    return node;
  }

  /** Proposes `data`; resolves with the state machine's result once applied on this node. */
  propose(data: Uint8Array): Promise<R> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    if (!(data instanceof Uint8Array)) {
      return Promise.reject(
        new RaftError('InvalidArgument', 'propose(data): data must be a Uint8Array'),
      );
    }
    let slot: { index: Index; term: Term };
    try {
      slot = this.raw.propose(data, EntryType.Normal);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = this.proposals.add(slot.index, slot.term, this.ticks + this.proposalTimeoutTicks);
    this.kick();
    return p;
  }

  /**
   * Resolves when a linearizable read may be served from this node's state machine: every
   * write that completed (anywhere) before `read()` was called is applied here (ReadIndex,
   * thesis §6.4). Works on followers too. Concurrent calls share one round.
   * Rejects with `NotLeaderError` (no leader known, or leadership lost — safe to retry) or
   * `RaftError('Timeout')`. A node that its own configuration leaves out (it was removed)
   * rejects at once with `NotLeaderError`: no leader answers it, so waiting would only run out
   * the timeout. A new node that knows no configuration yet waits as usual (it may be catching
   * up to the one that adds it).
   */
  read(): Promise<void> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    const members = this.raw.raft.tracker.progress;
    if (members.size > 0 && !members.has(this.id)) {
      return Promise.reject(
        new NotLeaderError(null, `${this.id} is not a member of its configuration`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const ctx = this.reads.add(this.ticks + this.readTimeoutTicks, resolve, reject);
      // Every read() of this turn joins the batch; it is submitted once the turn's code ran.
      if (ctx !== null) queueMicrotask(() => this.submitReads(ctx));
    });
  }

  private submitReads(context: number): void {
    if (this.stopped) {
      this.reads.failOpen(context, this.stoppedError());
      return;
    }
    try {
      this.raw.readIndex(context);
    } catch (e) {
      this.reads.failOpen(context, e as Error);
      return;
    }
    this.reads.submitted(context, this.ticks);
    this.kick();
  }

  /**
   * Transfers leadership to `to` (thesis §3.10); resolves once this node sees `to` as leader.
   * Rejects with `NotLeaderError` if this node is not the leader, `RaftError('Timeout')` after
   * an election timeout.
   */
  transferLeadership(to: NodeId): Promise<void> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    try {
      this.raw.transferLeadership(to);
    } catch (e) {
      return Promise.reject(e);
    }
    this.kick();
    if (to === this.id) return Promise.resolve();
    return this.transfers.add(to, this.ticks + this.electionTick + 1);
  }

  /**
   * Adds `id` as a voter (or promotes a learner). Resolves with the new configuration.
   * `context` travels in the log with the change (e.g. the member's address).
   */
  addVoter(id: NodeId, options: { context?: string } = {}): Promise<ConfState> {
    return this.changeMembership(withContext([{ op: 'addVoter', node: id }], options.context));
  }

  /** Adds `id` as a learner: it receives the log but does not vote until promoted. */
  addLearner(id: NodeId, options: { context?: string } = {}): Promise<ConfState> {
    return this.changeMembership(withContext([{ op: 'addLearner', node: id }], options.context));
  }

  /** Removes `id` from the cluster. A leader that removes itself steps down once applied. */
  removeNode(id: NodeId, options: { context?: string } = {}): Promise<ConfState> {
    return this.changeMembership(withContext([{ op: 'removeNode', node: id }], options.context));
  }

  /**
   * Proposes a membership change: one change at a time (thesis §4.1), or several at once via
   * joint consensus (thesis §4.3, left automatically). Resolves with the configuration once the
   * change is applied on this node.
   */
  changeMembership(cc: ConfChange): Promise<ConfState> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    if (typeof cc !== 'object' || cc === null || !Array.isArray(cc.changes)) {
      return Promise.reject(
        new RaftError('InvalidArgument', 'changeMembership: expected { changes: [...] }'),
      );
    }
    let slot: { index: Index; term: Term };
    try {
      slot = this.raw.proposeConfChange(cc);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = this.proposals.add<ConfState>(
      slot.index,
      slot.term,
      this.ticks + this.proposalTimeoutTicks,
    );
    this.kick();
    return p;
  }

  /** Starts an election now, if this node may campaign. */
  campaign(): void {
    if (this.stopped) return;
    this.raw.campaign();
    this.kick();
  }

  /**
   * The node's current state (term, role, leader, indexes, configuration), for monitoring.
   * `snapshotIndex` here is the last durable snapshot's index (taken or installed).
   */
  status(): NodeStatus {
    return {
      ...this.raw.status(),
      snapshotIndex: this.lastSnapshotIndex,
      stopped: this.stopped,
      failure: this.failure,
    };
  }

  /** Leader only: each other member's replication progress (empty on other roles). */
  progress(): PeerProgress[] {
    return this.raw.progress();
  }

  /** The leader this node believes in, or null. */
  get leader(): NodeId | null {
    return this.raw.raft.lead;
  }

  /** Subscribes to an event; returns the unsubscribe function. A throwing listener is logged. */
  on<K extends keyof RaftNodeEvents>(event: K, listener: Listener<RaftNodeEvents[K]>): () => void {
    const set = this.listeners[event] as Set<Listener<RaftNodeEvents[K]>>;
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit<K extends keyof RaftNodeEvents>(event: K, payload: RaftNodeEvents[K]): void {
    for (const l of this.listeners[event] as Set<Listener<RaftNodeEvents[K]>>) {
      try {
        l(payload);
      } catch (e) {
        // A listener's bug must not stop consensus (nor escape as an unhandled rejection).
        this.logger.error(`${this.id}: a ${event} listener threw`, { error: String(e) });
      }
    }
  }

  /**
   * Stops the node: no more ticks or messages, waits for the write in flight, stops the
   * transport and closes the storage. Pending proposals reject with `RaftError('Stopped')`
   * (their outcome is unknown: they may still commit on other nodes).
   */
  async stop(options: { transferLeadership?: boolean } = {}): Promise<void> {
    if (this.stopped) {
      await this.loopDone;
      return;
    }
    if (options.transferLeadership !== false) await this.handOver();
    this.stopped = true;
    this.halt(this.stoppedError());
    await this.loopDone;
    await this.snapshotTask;
    await this.storageTail;
    await this.transport.stop();
    await this.storage.close();
  }

  /** A leader about to stop hands leadership to its most up-to-date voter first. */
  private async handOver(): Promise<void> {
    const r = this.raw.raft;
    if (r.role !== 'leader') return;
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const [id, pr] of r.tracker.progress) {
      if (id === this.id || !r.tracker.isVoter(id)) continue;
      if (pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    if (best === null) return;
    try {
      await this.transferLeadership(best);
    } catch (e) {
      this.logger.warn(`${this.id} could not hand over leadership before stopping`, {
        error: String(e),
      });
    }
  }

  private stoppedError(): RaftError {
    return this.failure !== null
      ? new RaftError('Stopped', `node ${this.id} failed: ${this.failure.message}`, {
          cause: this.failure,
        })
      : new RaftError('Stopped', `node ${this.id} is stopped`);
  }

  private halt(reason: Error): void {
    if (this.timer !== null) {
      this.clock.clearInterval(this.timer);
      this.timer = null;
    }
    this.proposals.failAll(reason);
    this.reads.failAll(reason);
    this.transfers.failAll(reason);
  }

  private fail(e: unknown, what: 'Storage' | 'Transport' | 'StateMachine' | 'Internal'): void {
    if (this.failure !== null) return;
    const err = new FatalError(
      what,
      `${what.toLowerCase()} failure on node ${this.id}: ${String(e)}`,
      e,
    );
    this.failure = err;
    this.logger.error(`${this.id} stopped after a fatal error`, { error: String(e) });
    this.stopped = true;
    this.halt(err);
    this.emit('error', err);
    void this.transport.stop().catch(() => {});
  }

  private onTick(): void {
    if (this.stopped) return;
    this.ticks++;
    try {
      this.raw.tick();
    } catch (e) {
      this.fail(e, 'Internal');
      return;
    }
    this.proposals.expire(this.ticks, this.proposalTimeoutMs);
    this.reads.expire(this.ticks);
    this.retryFollowerReads();
    this.transfers.expire(this.ticks);
    this.kick();
  }

  /**
   * A follower's MsgReadIndex (or the leader's answer) may be lost: ask again, with the same
   * context, every third of an election timeout. (A leader needs no help: its heartbeats carry
   * the newest pending round.)
   */
  private retryFollowerReads(): void {
    if (this.raw.raft.role === 'leader') return;
    const every = Math.max(2, Math.floor(this.electionTick / 3));
    for (const ctx of this.reads.due(this.ticks, every)) {
      try {
        this.raw.readIndex(ctx);
      } catch {
        // No leader known right now: the batch times out unless a leader appears in time.
      }
    }
  }

  private receive(m: Message): void {
    if (this.stopped || m.to !== this.id) return;
    try {
      this.raw.step(m);
    } catch (e) {
      if (RaftError.isInstance(e)) {
        this.logger.warn(`${this.id} dropped a ${m.type} from ${m.from}`, { error: e.message });
        return;
      }
      this.fail(e, 'Internal');
      return;
    }
    this.kick();
  }

  /** Schedules the Ready loop if it is not running. */
  private kick(): void {
    if (this.looping || this.stopped) return;
    if (!this.raw.hasReady()) return;
    this.looping = true;
    this.loopDone = this.loop();
  }

  /** Runs `write` after every earlier storage write (the storage sees one call at a time). */
  private enqueueWrite(write: () => Promise<void>): Promise<void> {
    const p = this.storageTail.then(write);
    this.storageTail = p.catch(() => {});
    return p;
  }

  private async loop(): Promise<void> {
    try {
      // Let the current turn's inputs accumulate so they share one Ready (group commit).
      await Promise.resolve();
      while (!this.stopped && this.raw.hasReady()) {
        const rd = this.raw.ready();
        await this.handleReady(rd);
        if (this.failure !== null) return;
        this.raw.advance(rd);
        if (rd.readStates.length > 0) this.reads.onReadStates(rd.readStates, this.raw.raft.lead);
        this.reads.release(this.raw.raft.log.applied);
        if (rd.softState !== null) this.emitSoftState(rd.softState.role, rd.softState.lead);
        if (rd.snapshot !== null) {
          this.bytesSinceSnapshot = 0;
          const s = rd.snapshot;
          this.emit('snapshot', { index: s.meta.index, bytes: s.data.byteLength, installed: true });
        }
        this.maybeSnapshot();
      }
    } catch (e) {
      // Nothing above should throw (ports are wrapped); if something does, stop cleanly rather
      // than leave an unhandled rejection and a node that silently stopped looping.
      this.fail(e, 'Internal');
    } finally {
      this.looping = false;
    }
    if (!this.stopped && this.raw.hasReady()) this.kick();
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (!this.sendAll(rd.messages)) return;
    const ents = rd.committedEntries;
    const firstNew = rd.entries.length > 0 ? (rd.entries[0] as Entry).index : Infinity;
    // Committed entries that were durable here before this Ready (written by an earlier one)
    // can be applied while this Ready's own write is in flight: the next proposals then form
    // while the disk works, instead of after it (etcd calls this async storage writes). Entries
    // this Ready writes, and everything after a snapshot, still wait for the write.
    let applied = false;
    if (rd.snapshot !== null && this.storage.stageSnapshot !== undefined) {
      // A snapshot from the leader: its bulk goes to storage beside the write queue too (a
      // background save of our own may be in that queue), before the save that installs it.
      try {
        await this.storage.stageSnapshot(rd.snapshot);
      } catch (e) {
        this.fail(e, 'Storage');
        return;
      }
    }
    if (rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null) {
      const snap = rd.snapshot;
      const written = this.enqueueWrite(async () => {
        await this.storage.save(
          {
            ...(snap !== null && { snapshot: snap }),
            entries: rd.entries,
            ...(rd.hardState !== null && { hardState: rd.hardState }),
          },
          rd.mustSync && this.sync,
        );
        if (snap !== null && snap.meta.index > this.lastSnapshotIndex)
          this.lastSnapshotIndex = snap.meta.index;
      }).then(
        () => null,
        (e: unknown) => ({ error: e }),
      );
      if (snap === null && ents.length > 0 && (ents[ents.length - 1] as Entry).index < firstNew) {
        applied = true;
        if (!(await this.applyEntries(ents))) return;
        this.raw.ackApplied((ents[ents.length - 1] as Entry).index);
        this.reads.release(this.raw.raft.log.applied);
      }
      const failed = await written;
      if (failed !== null) {
        this.fail(failed.error, 'Storage');
        return;
      }
      if (this.failure !== null) return;
    }
    // NB: messages stepped during the write above may have changed the core (even installed a
    // newer snapshot); this Ready's contents stay valid, and the core ignores what is stale.
    if (!this.sendAll(rd.messagesAfterPersist)) return;
    if (rd.snapshot !== null) {
      try {
        await this.sm.restore(rd.snapshot.data);
      } catch (err) {
        this.fail(err, 'StateMachine');
        return;
      }
      // Proposals the snapshot covers were applied (or not) inside it: we cannot tell which.
      this.proposals.unknown({ le: rd.snapshot.meta.index }, 'covered by a snapshot');
    }
    if (!applied) await this.applyEntries(ents);
  }

  /** Applies committed entries in order; false (and the node failed) if the state machine threw. */
  private async applyEntries(ents: readonly Entry[]): Promise<boolean> {
    // NB: an index loop: `for…of` in an async function allocates an iterator result per entry.
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      let result: unknown;
      try {
        result = this.sm.apply(e);
        if (isThenable(result)) result = await result;
        if (e.type === EntryType.ConfChange) {
          const cs = this.raw.applyConfChange(Raft.decodeConfChange(e), e.index);
          result = cs;
          if (!isMember(cs, this.id) && this.proposals.size > 0) {
            // Removed: this node will not hear of later entries, committed or not.
            this.proposals.unknown(
              { gt: e.index },
              'this node was removed from the cluster; the remaining members may still commit it',
            );
          }
        }
      } catch (err) {
        // A state machine that throws cannot keep replicas identical: stop this node.
        this.fail(err, 'StateMachine');
        return false;
      }
      this.bytesSinceSnapshot += e.data.length; // NB: `length`, see entrySize
      this.proposals.applied(e, result);
    }
    return true;
  }

  /**
   * Takes a snapshot when the policy says so. The point (index, term, configuration) and the
   * state machine's view are captured now, synchronously; serializing and saving happen in the
   * background while the loop goes on, and the log is compacted once the snapshot is durable.
   */
  private maybeSnapshot(): void {
    if (this.snapshotInProgress >= 0 || this.stopped) return;
    const applied = this.raw.raft.log.applied;
    if (applied <= this.lastSnapshotIndex) return;
    const byEntries =
      this.snapshotEntries > 0 && applied - this.lastSnapshotIndex >= this.snapshotEntries;
    const byBytes = this.snapshotBytes > 0 && this.bytesSinceSnapshot >= this.snapshotBytes;
    if (!byEntries && !byBytes) return;
    const meta = this.raw.snapshotPoint();
    if (meta === null) return;
    let data: Uint8Array | Promise<Uint8Array>;
    try {
      data = this.sm.snapshot();
    } catch (e) {
      this.fail(e, 'StateMachine');
      return;
    }
    this.snapshotInProgress = meta.index;
    this.bytesSinceSnapshot = 0;
    this.snapshotTask = this.saveSnapshot(meta, data).finally(() => {
      this.snapshotInProgress = -1;
    });
  }

  private async saveSnapshot(
    meta: Snapshot['meta'],
    pending: Uint8Array | Promise<Uint8Array>,
  ): Promise<void> {
    let data: Uint8Array;
    try {
      data = await pending;
    } catch (e) {
      this.fail(e, 'StateMachine');
      return;
    }
    if (this.stopped) return;
    const snapshot: Snapshot = { meta, data };
    if (this.storage.stageSnapshot !== undefined) {
      // The bulk of the write happens here, outside the storage queue: log saves go on.
      try {
        await this.storage.stageSnapshot(snapshot);
      } catch (e) {
        this.fail(e, 'Storage');
        return;
      }
      if (this.stopped) return;
    }
    try {
      await this.enqueueWrite(async () => {
        // A newer snapshot (from the leader) may have been installed meanwhile: never go back.
        if (this.stopped || meta.index <= this.lastSnapshotIndex) return;
        await this.storage.save({ snapshot, entries: [] }, this.sync);
        this.lastSnapshotIndex = meta.index;
        this.raw.compact(snapshot, this.snapshotKeepEntries);
        this.logger.info(`${this.id} took a snapshot at ${meta.index}`, {
          bytes: data.byteLength,
        });
        this.emit('snapshot', { index: meta.index, bytes: data.byteLength, installed: false });
      });
    } catch (e) {
      this.fail(e, 'Storage');
    }
  }

  /** Sends messages grouped per peer; false (and the node failed) if the transport threw. */
  private sendAll(msgs: readonly Message[]): boolean {
    if (msgs.length === 0) return true;
    try {
      if (msgs.length === 1) {
        this.transport.send((msgs[0] as Message).to, msgs);
        return true;
      }
      const byPeer = new Map<NodeId, Message[]>();
      for (const m of msgs) {
        const arr = byPeer.get(m.to);
        if (arr === undefined) byPeer.set(m.to, [m]);
        else arr.push(m);
      }
      for (const [to, arr] of byPeer) this.transport.send(to, arr);
      return true;
    } catch (e) {
      this.fail(e, 'Transport');
      return false;
    }
  }

  private emitSoftState(role: Role, lead: NodeId | null): void {
    const term = this.raw.raft.term;
    if (role !== this.lastRole) {
      this.lastRole = role;
      this.emit('roleChange', { role, term });
    }
    if (lead !== this.lastLeader) {
      this.lastLeader = lead;
      this.emit('leaderChange', { leader: lead, term });
      if (lead !== null) this.transfers.leaderIs(lead);
    }
  }

  /** @internal Indexes of proposals awaiting their outcome (for the simulator's checks). */
  _pendingIndexes(): Index[] {
    return this.proposals.indexes();
  }

  /** @internal Unsettled promises of each kind (for the simulator's checks). */
  _pendingCounts(): { proposals: number; reads: number; transfers: number } {
    return {
      proposals: this.proposals.size,
      reads: this.reads.size,
      transfers: this.transfers.size,
    };
  }

  /** @internal For the simulator's invariant checks. */
  get _raw(): RawNode {
    return this.raw;
  }

  /** @internal True while a Ready is being handled (the core may be ahead of storage/apply). */
  get _busy(): boolean {
    return this.looping;
  }

  /** @internal For the simulator: abandons the node as a crash would (no cleanup, no I/O). */
  _crash(): void {
    this.stopped = true;
    if (this.timer !== null) {
      this.clock.clearInterval(this.timer);
      this.timer = null;
    }
    this.halt(new RaftError('Stopped', `node ${this.id} crashed`));
  }
}

function isMember(cs: ConfState, id: NodeId): boolean {
  return (
    cs.voters.includes(id) ||
    cs.learners.includes(id) ||
    cs.votersOutgoing.includes(id) ||
    cs.learnersNext.includes(id)
  );
}
