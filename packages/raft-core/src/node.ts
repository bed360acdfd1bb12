import { FatalError, RaftError } from './errors.js';
import { type Logger, noopLogger } from './logger.js';
import type { Clock, LogStorage, StateMachine, TimerHandle, Transport } from './ports.js';
import { RawNode, type RawStatus, type Ready } from './raw-node.js';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  type Entry,
  EntryType,
  type Index,
  type Message,
  type NodeId,
  type Role,
  type Term,
} from './types.js';

/** Options of {@link RaftNode.start}. */
export interface RaftNodeOptions<R> {
  readonly id: NodeId;
  readonly storage: LogStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine<R>;
  /**
   * The voters of a brand-new cluster. Used only when `storage` is empty; every founding member
   * must be started with the same list. Omit it for a node that will be added to an existing
   * cluster by a membership change.
   */
  readonly bootstrap?: readonly NodeId[];
  /** Milliseconds per tick. Default 100 (so heartbeats every 100 ms, elections after 1–2 s). */
  readonly tickMs?: number;
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly maxSizePerMsg?: number;
  readonly maxInflightMsgs?: number;
  readonly maxInflightBytes?: number;
  /** fsync each write (default true). `false` trades durability for speed: tests only. */
  readonly sync?: boolean;
  readonly clock?: Clock;
  /** Randomness for election timeouts. Default `Math.random`. */
  readonly random?: () => number;
  readonly logger?: Logger;
}

/** What {@link RaftNode.status} reports. */
export interface NodeStatus extends RawStatus {
  /** Set once the node stopped; `failure` holds the fatal error if it failed. */
  readonly stopped: boolean;
  readonly failure: Error | null;
}

/** Events emitted by a {@link RaftNode}. */
export interface RaftNodeEvents {
  roleChange: { readonly role: Role; readonly term: Term };
  leaderChange: { readonly leader: NodeId | null; readonly term: Term };
  /** The node hit a fatal storage/transport/state machine error and stopped. */
  error: Error;
}

type Listener<T> = (payload: T) => void;

interface Pending<R> {
  readonly term: Term;
  readonly resolve: (r: R) => void;
  readonly reject: (e: Error) => void;
}

/** The real-time clock: `setInterval` and `performance.now()`. */
export const systemClock: Clock = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
  now: () => performance.now(),
};

function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/**
 * `RaftNode` drives a {@link RawNode}: a clock ticks it, the transport steps it, and a single
 * loop drains each `Ready` into storage, transport and state machine (see `Ready` for the order).
 * Proposals made while a write is in flight are batched into the next write (group commit).
 */
export class RaftNode<R = unknown> {
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
  private readonly pending = new Map<Index, Pending<R>>();
  private readonly listeners: { [K in keyof RaftNodeEvents]: Set<Listener<RaftNodeEvents[K]>> } = {
    roleChange: new Set(),
    leaderChange: new Set(),
    error: new Set(),
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
  }

  /**
   * Loads durable state from `storage`, restores the state machine, starts the transport and
   * the clock. Rejects with `RaftError('InvalidArgument')` for a node with neither state nor
   * `bootstrap`... (a node that is to be added later may start empty and wait).
   */
  static async start<R>(opts: RaftNodeOptions<R>): Promise<RaftNode<R>> {
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
      const confState: ConfState = { ...EMPTY_CONF_STATE, voters };
      await storage.save({ entries: [], confState }, true);
      init = await storage.initialState();
    }
    let snapshotIndex = 0;
    let snapshotTerm = 0;
    if (init.snapshot !== null) {
      const snap = await storage.snapshot();
      if (snap === null)
        throw new RaftError('Storage', 'storage reports a snapshot but returned none');
      await opts.stateMachine.restore(snap.data);
      snapshotIndex = snap.meta.index;
      snapshotTerm = snap.meta.term;
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
      },
      {
        hardState: init.hardState,
        confState: init.confState,
        snapshotIndex,
        snapshotTerm,
        entries,
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
    let slot: { index: Index; term: Term };
    try {
      slot = this.raw.propose(data, EntryType.Normal);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<R>((resolve, reject) => {
      this.pending.set(slot.index, { term: slot.term, resolve, reject });
      this.kick();
    });
  }

  /** Starts an election now, if this node may campaign. */
  campaign(): void {
    if (this.stopped) return;
    this.raw.campaign();
    this.kick();
  }

  status(): NodeStatus {
    return { ...this.raw.status(), stopped: this.stopped, failure: this.failure };
  }

  /** The leader this node believes in, or null. */
  get leader(): NodeId | null {
    return this.raw.raft.lead;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof RaftNodeEvents>(event: K, listener: Listener<RaftNodeEvents[K]>): () => void {
    const set = this.listeners[event] as Set<Listener<RaftNodeEvents[K]>>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Stops the node: no more ticks or messages, waits for the write in flight, stops the
   * transport and closes the storage. Pending proposals reject with `RaftError('Stopped')`
   * (their outcome is unknown: they may still commit on other nodes).
   */
  async stop(): Promise<void> {
    if (this.stopped) {
      await this.loopDone;
      return;
    }
    this.stopped = true;
    this.halt(this.stoppedError());
    await this.loopDone;
    await this.transport.stop();
    await this.storage.close();
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
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
  }

  private fail(e: unknown, what: 'Storage' | 'Transport'): void {
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
    for (const l of this.listeners.error) l(err);
    void this.transport.stop().catch(() => {});
  }

  private onTick(): void {
    if (this.stopped) return;
    this.raw.tick();
    this.kick();
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
      throw e;
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

  private async loop(): Promise<void> {
    try {
      // Let the current turn's inputs accumulate so they share one Ready (group commit).
      await Promise.resolve();
      while (!this.stopped && this.raw.hasReady()) {
        const rd = this.raw.ready();
        await this.handleReady(rd);
        if (this.failure !== null) return;
        this.raw.advance(rd);
        if (rd.softState !== null) this.emitSoftState(rd.softState.role, rd.softState.lead);
      }
    } finally {
      this.looping = false;
    }
    if (!this.stopped && this.raw.hasReady()) this.kick();
  }

  private async handleReady(rd: Ready): Promise<void> {
    this.sendAll(rd.messages);
    if (rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null) {
      try {
        await this.storage.save(
          {
            ...(rd.snapshot !== null && { snapshot: rd.snapshot }),
            entries: rd.entries,
            ...(rd.hardState !== null && { hardState: rd.hardState }),
          },
          rd.mustSync && this.sync,
        );
      } catch (e) {
        this.fail(e, 'Storage');
        return;
      }
    }
    this.sendAll(rd.messagesAfterPersist);
    for (const e of rd.committedEntries) {
      let result: R | Promise<R>;
      try {
        result = this.sm.apply(e);
        if (isThenable(result)) result = await result;
      } catch (err) {
        // A state machine that throws cannot keep replicas identical: stop this node.
        this.fail(err, 'Storage');
        return;
      }
      this.settle(e, result as R);
    }
  }

  private settle(e: Entry, result: R): void {
    const p = this.pending.get(e.index);
    if (p === undefined) return;
    this.pending.delete(e.index);
    if (p.term === e.term) p.resolve(result);
    else {
      // Log matching: another entry committed at this index, so ours never will be.
      p.reject(
        new RaftError(
          'ProposalDropped',
          `proposal at index ${e.index} was superseded at term ${e.term}`,
        ),
      );
    }
  }

  private sendAll(msgs: readonly Message[]): void {
    if (msgs.length === 0) return;
    if (msgs.length === 1) {
      const m = msgs[0] as Message;
      this.transport.send(m.to, msgs);
      return;
    }
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of msgs) {
      const arr = byPeer.get(m.to);
      if (arr === undefined) byPeer.set(m.to, [m]);
      else arr.push(m);
    }
    for (const [to, arr] of byPeer) this.transport.send(to, arr);
  }

  private emitSoftState(role: Role, lead: NodeId | null): void {
    const term = this.raw.raft.term;
    if (role !== this.lastRole) {
      this.lastRole = role;
      for (const l of this.listeners.roleChange) l({ role, term });
    }
    if (lead !== this.lastLeader) {
      this.lastLeader = lead;
      for (const l of this.listeners.leaderChange) l({ leader: lead, term });
    }
  }

  /** @internal Indexes of proposals awaiting their outcome (for the simulator's checks). */
  _pendingIndexes(): Index[] {
    return [...this.pending.keys()];
  }

  /** @internal For the simulator's invariant checks. */
  get _raw(): RawNode {
    return this.raw;
  }

  /** @internal For the simulator: abandons the node as a crash would (no cleanup, no I/O). */
  _crash(): void {
    this.stopped = true;
    if (this.timer !== null) {
      this.clock.clearInterval(this.timer);
      this.timer = null;
    }
    const err = new RaftError('Stopped', `node ${this.id} crashed`);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
