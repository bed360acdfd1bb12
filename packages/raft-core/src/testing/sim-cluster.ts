import { RaftError } from '../errors.js';
import type { Logger } from '../logger.js';
import { latestLogVoters } from '../membership.js';
import { bootstrapWrite, RaftNode } from '../node.js';
import type {
  Clock,
  InitialState,
  LogStorage,
  MessageHandler,
  StateMachine,
  StorageWrite,
  Transport,
} from '../ports.js';
import type { Raft } from '../raft.js';
import { confStateFromConfig } from '../tracker/progress-tracker.js';
import {
  type ConfState,
  type Entry,
  EntryType,
  type Index,
  type Message,
  type MessageType,
  type MsgApp,
  type MsgSnap,
  type NodeId,
  type Snapshot,
  type Term,
} from '../types.js';
import { EventQueue } from './event-queue.js';
import {
  type CommitView,
  InvariantChecker,
  InvariantViolation,
  type NodeView,
} from './invariants/index.js';
import { mixBytes, mixNumber } from './invariants/types.js';
import { drawFollower, legitimateAppend, type ResendChoice } from './leader-resend.js';
import { MemoryLogStorage } from './memory-log-storage.js';
import { Rng } from './rng.js';

/** Fault knobs of the simulated network. All probabilities are per message. */
export interface SimNetworkOptions {
  /** Shortest delivery delay of a message, in simulated ms. */
  minDelayMs: number;
  /** Longest delivery delay of a message, in simulated ms. */
  maxDelayMs: number;
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Probability that a message is held back for an extra `reorderDelayMs` (reordering). */
  reorderRate: number;
  /** The extra delay of a held-back message, in simulated ms. */
  reorderDelayMs: number;
}

/** Options of {@link SimCluster.create}. */
export interface SimClusterOptions {
  /** The seed of every random choice: the same seed gives the same trace. */
  readonly seed: number;
  /** Node count (ids "n1".."nN") or explicit ids. Default 3. */
  readonly nodes?: number | readonly NodeId[];
  /** Simulated ms per tick. Default 10. */
  readonly tickMs?: number;
  /** Default 30 ticks (300–600 ms randomized). */
  readonly electionTick?: number;
  /** Default 10 ticks (a heartbeat every 100 ms, as the MIT lab requires). */
  readonly heartbeatTick?: number;
  /** PreVote on every node (default true, as in `RaftNodeOptions`). */
  readonly preVote?: boolean;
  /** CheckQuorum on every node (default true). */
  readonly checkQuorum?: boolean;
  /** Byte limit of the entries in one append message (driver default). */
  readonly maxSizePerMsg?: number;
  /** Unacknowledged appends in flight per follower (driver default). */
  readonly maxInflightMsgs?: number;
  /** Initial fault knobs of the network; change them later with {@link SimCluster.setNetwork}. */
  readonly network?: Partial<SimNetworkOptions>;
  /** Simulated fsync latency range in ms. Default [0.2, 2]. */
  readonly fsyncMs?: readonly [number, number];
  /**
   * Probability that a write stalls for `fsyncStallMs` instead (a slow disk): messages keep
   * arriving and being stepped while the Ready that produced the write waits. Default 0.
   */
  readonly fsyncStallRate?: number;
  /** Range of a stalled write's latency in ms (see `fsyncStallRate`). */
  readonly fsyncStallMs?: readonly [number, number];
  /**
   * When set, the state machine completes `apply`, `snapshot` and `restore` asynchronously,
   * after a simulated delay drawn from this range (ms), with probability `stateMachineAsyncRate`
   * (default 0.5): the driver then steps messages while a state machine call is pending.
   */
  readonly stateMachineDelayMs?: readonly [number, number];
  /** Probability that a state machine call completes asynchronously (see `stateMachineDelayMs`). */
  readonly stateMachineAsyncRate?: number;
  /** When set, the state machine hands over every snapshot's bytes this many ms after the call. */
  readonly snapshotDelayMs?: number;
  /**
   * When set, every node's storage offers `LogStorage.stageSnapshot`, which takes a simulated
   * time drawn from this range (ms) and runs beside the write queue, as SQLite's does: the
   * driver then steps messages and saves log entries while a snapshot (its own or one from the
   * leader) is being staged. Default: no staging.
   */
  readonly stageSnapshotMs?: readonly [number, number];
  /**
   * Probability that a storage write or state machine completion is held back until every
   * message already in flight to that node has arrived (at most 200 ms): the adversarial
   * interleaving where a Ready's write or apply is overtaken by what the network delivers.
   * Default 0.
   */
  readonly adversarialCompletionRate?: number;
  /**
   * Messages already on the wire when a partition starts still arrive (the cut is behind them).
   * Default false: a partition also drops messages in flight across it.
   */
  readonly inFlightSurvivesPartition?: boolean;
  /** Proposal timeout of every node (ms; default the driver's, 5 election timeouts). */
  readonly proposalTimeoutMs?: number;
  /** Check invariants after every step. Default true. */
  readonly checkInvariants?: boolean;
  /** Snapshot policy of every node (entries between snapshots; 0 = never). Default 0. */
  readonly snapshotEntries?: number;
  /** Entries kept in memory behind a snapshot for lagging followers (driver default). */
  readonly snapshotKeepEntries?: number;
  /**
   * Per-node clock rates (real ms per nominal ms; default 1). `{ n1: 1.5 }` makes n1's ticks
   * 50% slower than everyone else's: clock drift, for testing lease assumptions.
   */
  readonly clockRates?: Readonly<Record<NodeId, number>>;
  /** Byte-based snapshot policy (payload bytes applied since the last snapshot). Default 0. */
  readonly snapshotBytes?: number;
  /** Bytes per InstallSnapshot chunk (driver default). */
  readonly snapshotChunkSize?: number;
  /** How reads confirm leadership (driver default `'safe'`). */
  readonly readOnly?: 'safe' | 'lease';
  /** Where every node logs (default silent). */
  readonly logger?: Logger;
  /**
   * The leader-resend fault: when set, every so often (a delay drawn from this range, in ms) a
   * live leader sends one follower an append it could legitimately send but its own replication
   * would not — from any earlier index, a retransmission, a prefix (see
   * {@link SimCluster.resendFromLeader}). Default off.
   */
  readonly leaderResendMs?: readonly [number, number];
  /**
   * The share of leader resends that send the leader's latest snapshot instead of an append
   * (see {@link SimCluster.resendSnapshotFromLeader}). Default 0.
   */
  readonly leaderResendSnapshotRate?: number;
}

/** Per-type message counts and payload bytes sent through the simulated network. */
export interface SimStats {
  /** Requests (not responses): the MIT lab's "RPC" count. */
  rpcs: number;
  /** Messages sent, requests and responses. */
  messages: number;
  /** Sum of entry payload bytes carried by MsgApp. */
  entryBytes: number;
  /** Estimated wire bytes: 48 per message header + 24 per entry + payloads. */
  bytes: number;
  /** Messages sent, per message type. */
  byType: Record<string, number>;
  /** Simulation steps taken (events processed). */
  steps: number;
  /** Appends sent by the leader-resend fault (also counted in `messages`). */
  leaderResends: number;
}

/** The outcome of a simulated proposal. */
export type ProposeOutcome =
  | {
      /** The entry committed and was applied at the proposing node. */
      ok: true;
      /** Its log index. */
      index: Index;
      /** The simulated state machine's result. */
      value: string | boolean | null;
    }
  | {
      /** The proposal failed or its outcome is unknown. */
      ok: false;
      /** Why (a `RaftError` from the driver). */
      error: unknown;
    };

const REQUESTS = new Set([
  'MsgApp',
  'MsgVote',
  'MsgPreVote',
  'MsgHeartbeat',
  'MsgSnap',
  'MsgTimeoutNow',
  'MsgReadIndex',
]);

interface NodeSlot {
  readonly id: NodeId;
  readonly durable: MemoryLogStorage;
  incarnation: number;
  alive: boolean;
  node: RaftNode<SimApplied> | null;
  transport: SimTransport | null;
  sm: SimStateMachine | null;
  /** Term of the last durably completed hard state write. */
  durableTerm: Term;
}

/**
 * `SimCluster` is a deterministic, seeded simulation of a Raft cluster running the real
 * {@link RaftNode} driver over simulated time, storage and network. Messages can be dropped,
 * duplicated, delayed, reordered and partitioned (also one-way); nodes can crash and restart,
 * keeping only what their storage made durable. Invariants are checked after every step.
 * Same seed ⇒ same trace.
 */
export class SimCluster {
  /** The seed the cluster was created with. */
  readonly seed: number;
  /** The cluster's random stream (use it in tests so that runs stay reproducible). */
  readonly rng: Rng;
  /** Every node ever created (members or not). */
  readonly ids: readonly NodeId[];
  /** The invariant checks run after every step. */
  readonly checker = new InvariantChecker();
  /** Message counts so far. */
  readonly stats: SimStats = {
    rpcs: 0,
    messages: 0,
    entryBytes: 0,
    bytes: 0,
    byType: {},
    steps: 0,
    leaderResends: 0,
  };
  /** The simulated time, in ms. */
  now = 0;
  /** The current fault knobs of the network. */
  network: SimNetworkOptions;
  private readonly queue = new EventQueue();
  private readonly slots = new Map<NodeId, NodeSlot>();
  private readonly isolated = new Set<NodeId>();
  private readonly clockRates = new Map<NodeId, number>();
  private readonly blocked = new Set<string>();
  /** Extra delay of each slow link `from>to`, for some message types or all. */
  private readonly slow = new Map<string, { ms: number; types: ReadonlySet<string> | null }>();
  /** Latest scheduled arrival time of a message to each node. */
  private readonly lastArrival = new Map<NodeId, number>();
  /** Every promise handed out through the simulator's helpers (see `track`). */
  private readonly tracked = new Set<{ what: string; at: number }>();
  private readonly opts: SimClusterOptions;
  private violation: Error | null = null;
  private traceHash = 0;
  private stopped = false;

  private constructor(opts: SimClusterOptions) {
    this.opts = opts;
    this.seed = opts.seed;
    this.rng = new Rng(opts.seed);
    const nodes = opts.nodes ?? 3;
    this.ids =
      typeof nodes === 'number' ? Array.from({ length: nodes }, (_, i) => `n${i + 1}`) : [...nodes];
    this.network = {
      minDelayMs: 1,
      maxDelayMs: 5,
      dropRate: 0,
      duplicateRate: 0,
      reorderRate: 0,
      reorderDelayMs: 50,
      ...opts.network,
    };
  }

  /** Creates the cluster and starts every node (bootstrapped with all ids as voters). */
  static async create(opts: SimClusterOptions): Promise<SimCluster> {
    const c = new SimCluster(opts);
    for (const id of c.ids) {
      const durable = new MemoryLogStorage();
      await durable.save(bootstrapWrite(c.ids), true);
      c.slots.set(id, {
        id,
        durable,
        incarnation: 0,
        alive: false,
        node: null,
        transport: null,
        sm: null,
        durableTerm: 0,
      });
    }
    for (const id of c.ids) await c.boot(id);
    const every = opts.leaderResendMs;
    if (every !== undefined) {
      const snapshots = opts.leaderResendSnapshotRate ?? 0;
      const resend = (): void => {
        if (snapshots > 0 && c.rng.chance(snapshots)) c.resendSnapshotFromLeader();
        else c.resendFromLeader();
        c.schedule(c.rng.float(every[0], every[1]), resend);
      };
      c.schedule(c.rng.float(every[0], every[1]), resend);
    }
    return c;
  }

  // -------------------------------------------------------------------------------------------
  // Time

  /** Schedules `fn` after `delayMs` of simulated time. */
  schedule(delayMs: number, fn: () => void): void {
    this.queue.push(this.now + Math.max(0, delayMs), fn);
  }

  /** Runs one event. Returns false if none is pending. Throws on an invariant violation. */
  async step(): Promise<boolean> {
    const t = this.queue.peekTime();
    if (t === undefined || this.stopped) return false;
    const ev = this.queue.pop();
    if (ev === undefined) return false;
    this.now = ev.time;
    ev.fn();
    await drainMicrotasks();
    this.stats.steps++;
    if (this.violation !== null) throw this.violation;
    if (this.opts.checkInvariants !== false) {
      try {
        this.checker.check(this.views());
        this.checker.checkCommits(this.commitViews(), this.durableLast);
      } catch (e) {
        this.violation = e as Error;
        throw this.annotate(e);
      }
    }
    return true;
  }

  /** Runs until `pred()` holds or `timeoutMs` of simulated time passes; returns `pred()`. */
  async runUntil(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = this.now + timeoutMs;
    for (;;) {
      if (pred()) return true;
      const t = this.queue.peekTime();
      if (t === undefined || t > deadline) {
        this.now = deadline;
        return pred();
      }
      await this.step();
    }
  }

  /** Runs for `ms` of simulated time. */
  async run(ms: number): Promise<void> {
    await this.runUntil(() => false, ms);
  }

  // -------------------------------------------------------------------------------------------
  // Nodes

  private async boot(id: NodeId): Promise<void> {
    const slot = this.slot(id);
    slot.incarnation++;
    const incarnation = slot.incarnation;
    const init = await slot.durable.initialState();
    slot.durableTerm = init.hardState.term;
    const startIndex = init.snapshot?.index ?? 0;
    if (init.snapshot !== null) {
      try {
        this.checker.configuration.checkSnapshot(id, init.snapshot.index, init.snapshot.confState);
      } catch (e) {
        this._violation(this.annotate(e));
      }
    }
    this.checker.stateMachine.restart(id, incarnation, startIndex);
    const sm = new SimStateMachine(this, id, incarnation, startIndex);
    const transport = new SimTransport(this, id);
    const storage = new SimStorage(
      this,
      slot,
      incarnation,
      this.opts.stageSnapshotMs !== undefined,
    );
    const clock = new SimClock(
      this,
      () => slot.alive && slot.incarnation === incarnation,
      () => this.clockRates.get(id) ?? this.opts.clockRates?.[id] ?? 1,
    );
    slot.sm = sm;
    slot.transport = transport;
    slot.alive = true;
    const o = this.opts;
    const node = await RaftNode.start<SimApplied>({
      id,
      storage,
      transport,
      stateMachine: sm,
      clock,
      tickMs: o.tickMs ?? 10,
      electionTick: o.electionTick ?? 30,
      heartbeatTick: o.heartbeatTick ?? 10,
      random: () => this.rng.next(),
      ...(o.preVote !== undefined && { preVote: o.preVote }),
      ...(o.checkQuorum !== undefined && { checkQuorum: o.checkQuorum }),
      ...(o.maxSizePerMsg !== undefined && { maxSizePerMsg: o.maxSizePerMsg }),
      ...(o.maxInflightMsgs !== undefined && { maxInflightMsgs: o.maxInflightMsgs }),
      snapshotEntries: o.snapshotEntries ?? 0,
      snapshotBytes: o.snapshotBytes ?? 0,
      ...(o.snapshotKeepEntries !== undefined && { snapshotKeepEntries: o.snapshotKeepEntries }),
      ...(o.snapshotChunkSize !== undefined && { snapshotChunkSize: o.snapshotChunkSize }),
      ...(o.readOnly !== undefined && { readOnly: o.readOnly }),
      ...(o.proposalTimeoutMs !== undefined && { proposalTimeoutMs: o.proposalTimeoutMs }),
      ...(o.logger !== undefined && { logger: o.logger }),
    });
    // A node that stops on a fatal error (storage, state machine, or a core exception) is a
    // failure of the run, not something to discover later as a liveness problem.
    node.on('error', (e) => {
      this._violation(
        this.annotate(
          new InvariantViolation(
            'no node fails',
            `${id} stopped: ${String(e)} (${String((e as { cause?: unknown }).cause)})`,
          ),
        ),
      );
    });
    slot.node = node;
    sm.started = true;
  }

  /**
   * Crashes `id`: the process vanishes; writes whose simulated fsync has not completed are
   * lost; in-flight messages to it are dropped on arrival.
   */
  crash(id: NodeId): void {
    const slot = this.slot(id);
    if (!slot.alive) return;
    slot.alive = false;
    slot.node?._crash();
    slot.node = null;
    slot.transport = null;
    slot.sm = null;
    this.checker.forget(id, slot.incarnation);
  }

  /** Restarts a crashed node from its durable storage. */
  async restart(id: NodeId): Promise<void> {
    const slot = this.slot(id);
    if (slot.alive) this.crash(id);
    await this.boot(id);
  }

  /** True unless `id` is crashed. */
  isAlive(id: NodeId): boolean {
    return this.slot(id).alive;
  }

  /** The live RaftNode for `id`. Throws if crashed. */
  node(id: NodeId): RaftNode<SimApplied> {
    const n = this.slot(id).node;
    if (n === null) throw new Error(`node ${id} is down`);
    return n;
  }

  /** Live nodes that believe they are leader, with their terms. */
  leaders(among: readonly NodeId[] = this.ids): {
    /** A node that believes it is leader. */
    id: NodeId;
    /** The term it leads in. */
    term: Term;
  }[] {
    const out: { id: NodeId; term: Term }[] = [];
    for (const id of among) {
      const n = this.slot(id).node;
      if (n !== null) {
        const r = n._raw.raft;
        if (r.role === 'leader') out.push({ id, term: r.term });
      }
    }
    return out;
  }

  /** The live leader with the highest term among `among`, or null. */
  leader(among: readonly NodeId[] = this.ids): NodeId | null {
    let best: { id: NodeId; term: Term } | null = null;
    for (const l of this.leaders(among)) if (best === null || l.term > best.term) best = l;
    return best?.id ?? null;
  }

  /**
   * Waits until exactly one leader exists among the connected nodes of `among` (the lab's
   * checkOneLeader) and returns it. Throws after `timeoutMs` of simulated time.
   */
  async waitForLeader(
    among: readonly NodeId[] = this.connectedIds(),
    timeoutMs = 5000,
  ): Promise<NodeId> {
    let found: NodeId | null = null;
    const ok = await this.runUntil(() => {
      const ls = this.leaders(among);
      const top = Math.max(-1, ...ls.map((l) => l.term));
      const atTop = ls.filter((l) => l.term === top);
      found = atTop.length === 1 ? (atTop[0]?.id ?? null) : null;
      return found !== null;
    }, timeoutMs);
    if (!ok || found === null)
      throw this.annotate(new Error(`no leader among [${among.join(',')}] within ${timeoutMs} ms`));
    return found;
  }

  /** Live nodes that are not isolated. */
  connectedIds(): NodeId[] {
    return this.ids.filter((id) => this.slot(id).alive && !this.isolated.has(id));
  }

  /** The current term of the live node `id` (throws if it is down). */
  termOf(id: NodeId): Term {
    return this.node(id)._raw.raft.term;
  }

  // -------------------------------------------------------------------------------------------
  // Clients

  /** Proposes `data` at `id`. Never rejects: the outcome says what happened. */
  propose(id: NodeId, data: Uint8Array): Promise<ProposeOutcome> {
    const slot = this.slot(id);
    if (slot.node === null)
      return Promise.resolve({ ok: false, error: new RaftError('Stopped', `${id} is down`) });
    return this.track(slot.node.propose(data), `propose at ${id}`).then(
      (r) => ({ ok: true, index: r.index, value: r.value }) as const,
      (error: unknown) => ({ ok: false, error }) as const,
    );
  }

  /**
   * The lab's `Start()`: proposes `data` at `id` without waiting. Returns the index the entry
   * would occupy, the node's term, and whether it was leader (if not, nothing was proposed).
   */
  start(
    id: NodeId,
    data: Uint8Array,
  ): {
    /** The index the entry would occupy (-1 if `id` is down or not leader). */
    index: Index;
    /** `id`'s current term (-1 if it is down). */
    term: Term;
    /** Whether `id` was leader, so that something was proposed. */
    isLeader: boolean;
  } {
    const n = this.slot(id).node;
    if (n === null) return { index: -1, term: -1, isLeader: false };
    const r = n._raw.raft;
    if (r.role !== 'leader') return { index: -1, term: r.term, isLeader: false };
    void this.propose(id, data);
    return { index: r.log.lastIndex(), term: r.term, isLeader: true };
  }

  /** The entry `id` applied at `index` in its current lifetime, if any. */
  appliedAt(id: NodeId, index: Index): Entry | undefined {
    const sm = this.slot(id).sm;
    if (sm === null || sm.lastApplied < index) return undefined;
    // State machine safety (checked on every apply) makes the global record this node's too.
    return this.checker.stateMachine.entries.get(index);
  }

  /**
   * Linearizable read of `key` at `id`: ReadIndex, then the local state machine. Never rejects.
   */
  get(
    id: NodeId,
    key: string,
  ): Promise<
    | {
        /** The read was served. */
        ok: true;
        /** The value of `key`, or null if absent. */
        value: string | null;
      }
    | {
        /** The read failed (no leader, timeout, node down). */
        ok: false;
        /** Why (a `RaftError`). */
        error: unknown;
      }
  > {
    const slot = this.slot(id);
    if (slot.node === null)
      return Promise.resolve({ ok: false, error: new RaftError('Stopped', `${id} is down`) });
    const sm = slot.sm;
    const since = this.committedHighWater();
    return this.track(slot.node.read(), `read at ${id}`).then(
      () => {
        try {
          this.checker.reads.check(id, since, sm?.lastApplied ?? 0);
        } catch (e) {
          this._violation(this.annotate(e));
        }
        return { ok: true, value: sm?.kv.get(key) ?? null } as const;
      },
      (error: unknown) => ({ ok: false, error }) as const,
    );
  }

  /**
   * The highest index any node has committed so far: the checked record, and what live nodes
   * report now (this step's changes are checked only after it).
   */
  committedHighWater(): Index {
    let high = this.checker.committedHighWater();
    for (const { r } of this.liveNodes()) if (r.log.committed > high) high = r.log.committed;
    return high;
  }

  /** The local (possibly stale) value of `key` at `id`. */
  localValue(id: NodeId, key: string): string | null {
    return this.slot(id).sm?.kv.get(key) ?? null;
  }

  /**
   * Adds a new, empty node `id` to the simulation (not yet a member: a leader must add it with
   * `addLearner`/`addVoter`). It starts with no configuration and waits to be contacted.
   */
  async addNode(id: NodeId): Promise<void> {
    if (this.slots.has(id)) throw new Error(`node ${id} already exists`);
    const durable = new MemoryLogStorage();
    this.slots.set(id, {
      id,
      durable,
      incarnation: 0,
      alive: false,
      node: null,
      transport: null,
      sm: null,
      durableTerm: 0,
    });
    (this.ids as NodeId[]).push(id);
    await this.boot(id);
  }

  /** The configuration as the current leader sees it (or null without a leader). */
  members(): ConfState | null {
    const l = this.leader();
    return l === null ? null : this.node(l).status().confState;
  }

  /** The highest index applied by `id` (0 if down). */
  appliedIndex(id: NodeId): Index {
    return this.slot(id).node?._raw.raft.log.applied ?? 0;
  }

  /**
   * The lab's nCommitted: how many live nodes applied `index`, and the payload they agree on
   * (throws if two nodes applied different payloads there).
   */
  nCommitted(index: Index): {
    /** Live nodes that applied `index`. */
    count: number;
    /** The payload they applied there, or null if none did. */
    data: Uint8Array | null;
  } {
    let count = 0;
    let data: Uint8Array | null = null;
    for (const id of this.ids) {
      const e = this.appliedAt(id, index);
      if (e === undefined) continue;
      if (data !== null && !bytesEqual(data, e.data)) {
        throw this.annotate(new Error(`nodes applied different payloads at index ${index}`));
      }
      data = e.data;
      count++;
    }
    return { count, data };
  }

  /**
   * The lab's `one()`: submits `data` to the leader (retrying across leader changes) until
   * at least `expectedNodes` live nodes applied it at the same index. Returns the index.
   */
  async one(
    data: Uint8Array,
    expectedNodes: number,
    retry = true,
    timeoutMs = 10_000,
  ): Promise<Index> {
    const [index] = await this.oneMany([data], expectedNodes, retry, timeoutMs);
    return index as Index;
  }

  /**
   * Like {@link one} for several commands submitted concurrently (in the same turn, so they
   * share a batch). Commands lost to a leader change are resubmitted when `retry`.
   */
  async oneMany(
    datas: readonly Uint8Array[],
    expectedNodes: number,
    retry = true,
    timeoutMs = 10_000,
  ): Promise<Index[]> {
    const deadline = this.now + timeoutMs;
    const items = datas.map((data) => ({ data, index: -1 }));
    const done = (x: { data: Uint8Array; index: number }): boolean => {
      if (x.index < 0) return false;
      const c = this.nCommitted(x.index);
      return c.count >= expectedNodes && c.data !== null && bytesEqual(c.data, x.data);
    };
    let attempts = 0;
    while (this.now < deadline) {
      const leader = this.connectedIds().find(
        (id) => this.slot(id).node?._raw.raft.role === 'leader',
      );
      if (leader === undefined) {
        await this.run(50);
        continue;
      }
      if (attempts > 0 && !retry) break;
      attempts++;
      for (const x of items) if (!done(x)) x.index = this.start(leader, x.data).index;
      const until = Math.min(deadline, this.now + 2000);
      if (await this.runUntil(() => items.every(done), until - this.now))
        return items.map((x) => x.index);
    }
    const missing = items.filter((x) => !done(x)).map((x) => describe(x.data));
    throw this.annotate(
      new Error(
        `one(${missing.join(', ')}) failed to reach agreement among ${expectedNodes} nodes`,
      ),
    );
  }

  /**
   * The leader-resend fault, once: a live leader sends a follower, through the simulated
   * network, an AppendEntries it could legitimately send right now (its term, any `prevIndex`
   * it still has the term of, a slice of its real log after it, its commit index), as Raft
   * allows (§5.3) though this leader's own backtracking never does. Fields of `choice` left out are drawn at random. Returns the
   * message, or null if there is no live leader, no such follower or `prevIndex` is compacted.
   */
  resendFromLeader(choice: ResendChoice = {}): MsgApp | null {
    const leaders = this.resendingLeaders();
    if (leaders.length === 0) return null;
    const from = choice.from ?? this.rng.pick(leaders).id;
    if (!leaders.some((l) => l.id === from)) return null;
    const r = this.node(from)._raw.raft;
    const peers = [...r.tracker.progress.keys()].filter((id) => id !== from && this.slots.has(id));
    if (peers.length === 0) return null;
    const to = choice.to ?? drawFollower(r, this.rng, peers);
    if (to === null) return null;
    const follower = this.slots.get(to)?.node?._raw.raft;
    const m = legitimateAppend(r, to, this.rng, follower?.log.committed, choice);
    if (m === null) return null;
    this.stats.leaderResends++;
    this._send(from, to, [m]);
    return m;
  }

  /**
   * The snapshot form of the leader-resend fault: a live leader sends one follower its latest
   * snapshot, in chunks, where its own replication would have sent entries. A leader may always
   * choose to (it sends the very snapshot its own catch-up path would send; etcd's leader does
   * so whenever the entries are compacted, and a leader that compacts eagerly does so often), so
   * a follower must handle one at any moment: in particular while a write of its own, with
   * committed configuration changes older than the snapshot, is still in flight. The leader's
   * own progress is untouched; it ignores the answers as stale. Returns the chunks sent.
   */
  resendSnapshotFromLeader(): number {
    const leaders = this.resendingLeaders();
    if (leaders.length === 0) return 0;
    const r = this.node(this.rng.pick(leaders).id)._raw.raft;
    const snap = r.snapshot;
    if (snap === null) return 0;
    const peers = [...r.tracker.progress.keys()].filter((id) => id !== r.id && this.slots.has(id));
    const to = drawFollower(r, this.rng, peers);
    if (to === null) return 0;
    const total = snap.data.byteLength;
    const size = Math.max(1, r.cfg.snapshotChunkSize);
    const chunks: MsgSnap[] = [];
    let offset = 0;
    do {
      const end = Math.min(total, offset + size);
      chunks.push({
        type: 'MsgSnap',
        from: r.id,
        to,
        term: r.term,
        meta: snap.meta,
        offset,
        totalBytes: total,
        data: snap.data.subarray(offset, end),
        done: end === total,
      });
      offset = end;
    } while (offset < total);
    this.stats.leaderResends++;
    this._send(r.id, to, chunks);
    return chunks.length;
  }

  /** Live leaders whose term is durable: the ones the leader-resend fault may speak for. */
  private resendingLeaders(): ReturnType<SimCluster['leaders']> {
    return this.leaders().filter((l) => {
      const slot = this.slot(l.id);
      // A leader's term is durable (it won votes sent only after persisting it), so this holds;
      // checked anyway, so that the fault can never send what a crash could take back.
      return slot.transport !== null && slot.durableTerm === l.term;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Network

  /** Cuts `id` off from everyone (both directions), as the lab's disconnect. */
  disconnect(id: NodeId): void {
    this.isolated.add(id);
  }

  /** Undoes {@link SimCluster.disconnect}. */
  connect(id: NodeId): void {
    this.isolated.delete(id);
  }

  /** Splits the cluster: messages only flow within a group. */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    const groupOf = new Map<NodeId, number>();
    groups.forEach((g, i) => {
      for (const id of g) groupOf.set(id, i);
    });
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a !== b && groupOf.get(a) !== groupOf.get(b)) this.blocked.add(`${a}>${b}`);
      }
    }
  }

  /** Drops messages from `from` to `to` (one direction only). */
  blockOneWay(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  /**
   * Delays every message from `from` to `to` by `extraMs` more (e.g. longer than an election
   * timeout: late votes, late MsgTimeoutNow, late read answers) — only messages of `types` if
   * given. Healed by {@link heal}.
   */
  slowLink(from: NodeId, to: NodeId, extraMs: number, types?: readonly MessageType[]): void {
    this.slow.set(`${from}>${to}`, {
      ms: extraMs,
      types: types === undefined ? null : new Set(types),
    });
  }

  /** Removes every partition, isolation and slow link. */
  heal(): void {
    this.blocked.clear();
    this.isolated.clear();
    this.slow.clear();
  }

  /** Changes how fast `id`'s clock ticks (real ms per nominal ms; 1 = true time): drift. */
  setClockRate(id: NodeId, rate: number): void {
    if (!(rate > 0)) throw new Error('clock rate must be positive');
    this.clockRates.set(id, rate);
  }

  /** Changes some fault knobs of the network from now on. */
  setNetwork(opts: Partial<SimNetworkOptions>): void {
    this.network = { ...this.network, ...opts };
  }

  private canDeliver(from: NodeId, to: NodeId): boolean {
    return !this.isolated.has(from) && !this.isolated.has(to) && !this.blocked.has(`${from}>${to}`);
  }

  /** @internal Called by SimTransport. */
  _send(from: NodeId, to: NodeId, msgs: readonly Message[]): void {
    const net = this.network;
    for (const m of msgs) {
      this.stats.messages++;
      this.stats.byType[m.type] = (this.stats.byType[m.type] ?? 0) + 1;
      if (REQUESTS.has(m.type)) this.stats.rpcs++;
      if (m.type === 'MsgApp')
        for (const e of m.entries) this.stats.entryBytes += e.data.byteLength;
      if (!this.canDeliver(from, to) || this.rng.chance(net.dropRate)) continue;
      const copies = this.rng.chance(net.duplicateRate) ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        const slow = this.slow.get(`${from}>${to}`);
        let delay = this.rng.float(net.minDelayMs, net.maxDelayMs);
        if (slow !== undefined && (slow.types === null || slow.types.has(m.type))) delay += slow.ms;
        if (this.rng.chance(net.reorderRate)) delay += this.rng.float(0, net.reorderDelayMs);
        const at = this.now + Math.max(0, delay);
        if (at > (this.lastArrival.get(to) ?? 0)) this.lastArrival.set(to, at);
        this.schedule(delay, () => this.deliver(from, to, m));
      }
    }
  }

  private deliver(from: NodeId, to: NodeId, m: Message): void {
    const slot = this.slots.get(to);
    if (slot === undefined || !slot.alive || slot.transport === null) return;
    if (this.opts.inFlightSurvivesPartition !== true && !this.canDeliver(from, to)) return;
    this.traceHash = mixNumber(
      mixNumber(mixNumber(this.traceHash, Math.round(this.now * 1000)), m.term),
      m.type.length,
    );
    this.traceHash = mixBytes(this.traceHash, new TextEncoder().encode(m.from + m.to + m.type));
    slot.transport.deliver(m);
  }

  /** A digest of everything delivered so far: equal seeds must give equal digests. */
  trace(): number {
    return this.traceHash;
  }

  // -------------------------------------------------------------------------------------------
  // Invariants and diagnostics

  /** The live nodes, with their slot and pure core (the per-step checks read these). */
  private *liveNodes(): Generator<{ slot: NodeSlot; node: RaftNode<SimApplied>; r: Raft }> {
    for (const slot of this.slots.values()) {
      if (slot.alive && slot.node !== null) yield { slot, node: slot.node, r: slot.node._raw.raft };
    }
  }

  private views(): NodeView[] {
    const out: NodeView[] = [];
    for (const { slot, node, r } of this.liveNodes()) {
      out.push({
        id: slot.id,
        incarnation: slot.incarnation,
        role: r.role,
        term: r.term,
        log: r.log,
        durableTerm: slot.durableTerm,
        conf: confStateFromConfig(r.tracker.config),
        busy: node._busy,
      });
    }
    return out;
  }

  private commitViews(): CommitView[] {
    const out: CommitView[] = [];
    for (const { slot, r } of this.liveNodes()) {
      const isLeader = r.role === 'leader';
      out.push({
        id: slot.id,
        log: r.log,
        voters: r.tracker.config.voters,
        latestVoters: isLeader ? null : latestLogVoters(r),
        isLeader,
      });
    }
    return out;
  }

  private readonly durableLast = (id: NodeId): { index: Index; term: Term } | undefined =>
    this.slots.get(id)?.durable._last();

  /**
   * Records a promise handed out by a node, so that {@link checkAllSettled} can prove it settled
   * (every promise of the API must: resolved, or rejected with a definite code, within a bound).
   */
  track<T>(p: Promise<T>, what: string): Promise<T> {
    const rec = { what, at: this.now };
    this.tracked.add(rec);
    const done = (): void => {
      this.tracked.delete(rec);
    };
    p.then(done, done);
    return p;
  }

  /** Throws if a tracked promise is still unsettled. */
  checkAllSettled(): void {
    if (this.tracked.size === 0) return;
    const list = [...this.tracked].slice(0, 5).map((r) => `${r.what} (since t=${r.at.toFixed(0)})`);
    throw this.annotate(
      new InvariantViolation(
        'every promise settles',
        `${this.tracked.size} promise(s) never settled: ${list.join(', ')}`,
      ),
    );
  }

  /** @internal */
  _violation(e: Error): void {
    if (this.violation === null) this.violation = e;
  }

  /** Checks that no live node holds a proposal promise for an index it has already applied. */
  checkNoLostProposals(): void {
    for (const slot of this.slots.values()) {
      if (slot.node === null) continue;
      const applied = slot.node._raw.raft.log.applied;
      for (const i of slot.node._pendingIndexes()) {
        if (i <= applied) {
          throw this.annotate(
            new InvariantViolation(
              'proposal settled',
              `${slot.id} never settled its proposal at applied index ${i}`,
            ),
          );
        }
      }
    }
  }

  /** A one-line-per-node description of the cluster state, for failure messages. */
  describeState(): string {
    const lines: string[] = [];
    for (const id of this.ids) {
      const n = this.slot(id).node;
      if (n === null) {
        lines.push(`${id}: down`);
        continue;
      }
      const r = n._raw.raft;
      let line = `${id}: ${r.role} term=${r.term} lead=${r.lead} commit=${r.log.committed} applied=${r.log.applied} last=${r.log.lastIndex()}/${r.log.lastTerm()} stable=${r.log.stable}`;
      if (r.role === 'leader') {
        for (const [pid, pr] of r.tracker.progress) {
          line += `\n    ${pid}: ${pr.state} match=${pr.match} next=${pr.next} paused=${pr.isPaused()} inflight=${pr.inflights.count} active=${pr.recentActive}${pr.state === 'snapshot' ? ` snap=${pr.pendingSnapshot} sent=${pr.snapSent} acked=${pr.snapAcked} size=${r.snapshot?.data.byteLength}@${r.snapshot?.meta.index}` : ''}`;
        }
      }
      lines.push(line);
    }
    return lines.join('\n');
  }

  /** Adds the seed and simulated time to an error, so it can be replayed. */
  annotate(e: unknown): Error {
    const err = e instanceof Error ? e : new Error(String(e));
    if (!err.message.includes('[seed '))
      err.message += ` [seed ${this.seed}, t=${this.now.toFixed(1)}ms, step ${this.stats.steps}]`;
    return err;
  }

  /** Stops everything; pending events are discarded. */
  stop(): void {
    this.stopped = true;
    for (const id of this.ids) this.crash(id);
    this.queue.clear();
  }

  private slot(id: NodeId): NodeSlot {
    const s = this.slots.get(id);
    if (s === undefined) throw new Error(`unknown node ${id}`);
    return s;
  }

  /** @internal */
  _fsyncDelay(): number {
    const [lo, hi] = this.opts.fsyncMs ?? [0.2, 2];
    const stall = this.opts.fsyncStallRate ?? 0;
    if (stall > 0 && this.rng.chance(stall)) {
      const [slo, shi] = this.opts.fsyncStallMs ?? [20, 200];
      return this.rng.float(slo, shi);
    }
    return this.rng.float(lo, hi);
  }

  /**
   * @internal The delay of a storage or state machine completion at `id` whose natural delay
   * is `base`: sometimes (see `adversarialCompletionRate`) until the messages in flight to `id`
   * have arrived.
   */
  _completionDelay(id: NodeId, base: number): number {
    const rate = this.opts.adversarialCompletionRate ?? 0;
    if (rate === 0 || !this.rng.chance(rate)) return base;
    const wait = Math.min((this.lastArrival.get(id) ?? 0) - this.now, 200) + 0.01;
    return Math.max(base, wait);
  }

  /** @internal */
  _snapshotDelay(): number | undefined {
    return this.opts.snapshotDelayMs;
  }

  /** @internal How long staging a snapshot takes, or undefined if storages do not stage. */
  _stageDelay(id: NodeId): number | undefined {
    const range = this.opts.stageSnapshotMs;
    if (range === undefined) return undefined;
    return this._completionDelay(id, this.rng.float(range[0], range[1]));
  }

  /** @internal A state machine completion delay, or null to complete synchronously. */
  _smDelay(): number | null {
    const range = this.opts.stateMachineDelayMs;
    if (range === undefined || !this.rng.chance(this.opts.stateMachineAsyncRate ?? 0.5))
      return null;
    return this.rng.float(range[0], range[1]);
  }
}

/** Drains the microtask queue (every promise continuation the last event caused). */
function drainMicrotasks(): Promise<void> {
  // biome-ignore lint/style/noRestrictedGlobals: the simulator yields to the event loop only to let promise continuations run; no simulated behaviour depends on real time.
  return new Promise((resolve) => setImmediate(resolve));
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describe(data: Uint8Array): string {
  return new TextDecoder().decode(data.subarray(0, 32));
}

/** A clock whose intervals are simulation events, with a random phase per node. */
class SimClock implements Clock {
  constructor(
    private readonly sim: SimCluster,
    private readonly live: () => boolean,
    /** Real ms per nominal ms: 1.1 means this node's clock runs 10% slow. */
    private readonly rate: () => number,
  ) {}

  setInterval(fn: () => void, ms: number): { cancelled: boolean } {
    const h = { cancelled: false };
    const fire = (): void => {
      if (h.cancelled || !this.live()) return;
      fn();
      this.sim.schedule(ms * this.rate(), fire);
    };
    this.sim.schedule(this.sim.rng.float(0, ms * this.rate()), fire);
    return h;
  }

  clearInterval(h: unknown): void {
    (h as { cancelled: boolean }).cancelled = true;
  }

  now(): number {
    return this.sim.now;
  }
}

/** Storage whose writes become durable only when their simulated fsync completes. */
class SimStorage implements LogStorage {
  /** Present when the simulation stages snapshots (`stageSnapshotMs`). */
  readonly stageSnapshot?: (snapshot: Snapshot) => Promise<void>;

  constructor(
    private readonly sim: SimCluster,
    private readonly slot: NodeSlot,
    private readonly incarnation: number,
    staging: boolean,
  ) {
    // Staging writes nothing durable (the save that follows installs the snapshot); it only
    // takes time, during which a crash loses it and the driver goes on with everything else.
    if (staging) {
      this.stageSnapshot = (_snapshot: Snapshot): Promise<void> =>
        new Promise((resolve) => {
          const delay = this.sim._stageDelay(this.slot.id) ?? 0;
          this.sim.schedule(delay, () => {
            if (this.live()) resolve();
          });
        });
    }
  }

  private live(): boolean {
    return this.slot.alive && this.slot.incarnation === this.incarnation;
  }

  initialState(): Promise<InitialState> {
    return this.slot.durable.initialState();
  }

  entries(lo: Index, hi: Index, maxBytes?: number): Promise<Entry[]> {
    return this.slot.durable.entries(lo, hi, maxBytes);
  }

  term(index: Index): Promise<Term> {
    return this.slot.durable.term(index);
  }

  save(write: StorageWrite, sync: boolean): Promise<void> {
    // Copy the arrays: the write must not see later changes by the caller.
    const w: StorageWrite = { ...write, entries: [...write.entries] };
    if (w.snapshot !== undefined) {
      const m = w.snapshot.meta;
      try {
        this.sim.checker.configuration.checkSnapshot(this.slot.id, m.index, m.confState);
      } catch (e) {
        this.sim._violation(this.sim.annotate(e));
      }
    }
    return new Promise((resolve, reject) => {
      const base = sync ? this.sim._fsyncDelay() : 0;
      this.sim.schedule(this.sim._completionDelay(this.slot.id, base), () => {
        // A crash before the fsync completed loses the whole write (writes are atomic).
        if (!this.live()) return;
        this.slot.durable.save(w, true).then(() => {
          if (w.hardState !== undefined) this.slot.durableTerm = w.hardState.term;
          resolve();
        }, reject);
      });
    });
  }

  compact(index: Index): Promise<void> {
    return this.slot.durable.compact(index);
  }

  snapshot(): Promise<Snapshot | null> {
    return this.slot.durable.snapshot();
  }

  async close(): Promise<void> {}
}

class SimTransport implements Transport {
  private handler: MessageHandler | null = null;

  constructor(
    private readonly sim: SimCluster,
    private readonly id: NodeId,
  ) {}

  async start(handler: MessageHandler): Promise<void> {
    this.handler = handler;
  }

  send(to: NodeId, messages: readonly Message[]): void {
    if (this.handler === null) return;
    this.sim._send(this.id, to, messages);
  }

  deliver(m: Message): void {
    this.handler?.(m);
  }

  async stop(): Promise<void> {
    this.handler = null;
  }
}

/** What the simulated state machine returns for an applied entry. */
export interface SimApplied {
  readonly index: Index;
  /** For KV commands: `'ok'` for put, a boolean for cas; otherwise null. */
  readonly value: string | boolean | null;
}

/** A KV command, as the simulator encodes it in entries (JSON with a marker). */
export type SimKvCommand =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'cas'; readonly key: string; readonly from: string | null; readonly to: string };

const KV_MARKER = 0x7b; // '{'

/** Encodes a KV command for {@link SimCluster.propose}. */
export function encodeKvCommand(cmd: SimKvCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cmd));
}

/**
 * The simulator's state machine: a small key-value store (put/cas; gets go through ReadIndex)
 * that also feeds the state machine safety check, and whose snapshots carry the hash of the
 * applied prefix, so a restored snapshot is checked against what everyone applied.
 * Entries that are not KV commands (the lab tests' payloads) are only recorded.
 */
class SimStateMachine implements StateMachine<SimApplied> {
  readonly kv = new Map<string, string>();
  lastApplied: Index;

  constructor(
    private readonly sim: SimCluster,
    private readonly id: NodeId,
    private readonly incarnation: number,
    startIndex: Index,
  ) {
    this.lastApplied = startIndex;
  }

  apply(e: Entry): SimApplied | Promise<SimApplied> {
    const r = this.applyNow(e);
    return this.later(r);
  }

  /**
   * Set once the node started: `RaftNode.start` awaits `restore` while the simulation is not
   * running events, so completions are synchronous until then.
   */
  started = false;

  /** Returns `v`, or a promise of it completed after a simulated delay (see `_smDelay`). */
  private later<T>(v: T): T | Promise<T> {
    if (!this.started) return v;
    const natural = this.sim._smDelay();
    const d = this.sim._completionDelay(this.id, natural ?? 0);
    if (natural === null && d === 0) return v;
    return new Promise<T>((resolve) => this.sim.schedule(d, () => resolve(v)));
  }

  private applyNow(e: Entry): SimApplied {
    try {
      this.sim.checker.stateMachine.onApply(this.id, this.incarnation, e, this.lastApplied);
    } catch (err) {
      this.sim._violation(this.sim.annotate(err));
      throw err;
    }
    this.lastApplied = e.index;
    let value: string | boolean | null = null;
    if (e.type === EntryType.Normal && e.data[0] === KV_MARKER) {
      const cmd = JSON.parse(new TextDecoder().decode(e.data)) as SimKvCommand;
      if (cmd.op === 'put') {
        this.kv.set(cmd.key, cmd.value);
        value = 'ok';
      } else {
        const cur = this.kv.get(cmd.key) ?? null;
        value = cur === cmd.from;
        if (value) this.kv.set(cmd.key, cmd.to);
      }
    }
    return { index: e.index, value };
  }

  /** Captures the state now (a point-in-time view); may hand the bytes over later. */
  snapshot(): Uint8Array | Promise<Uint8Array> {
    const chain = this.sim.checker.stateMachine.chainAt(this.lastApplied);
    const bytes = new TextEncoder().encode(
      JSON.stringify({ index: this.lastApplied, chain, kv: [...this.kv] }),
    );
    const slow = this.sim._snapshotDelay();
    if (slow !== undefined && this.started) {
      return new Promise((resolve) => this.sim.schedule(slow, () => resolve(bytes)));
    }
    return this.later(bytes);
  }

  restore(data: Uint8Array): void | Promise<void> {
    this.restoreNow(data);
    return this.later(undefined);
  }

  private restoreNow(data: Uint8Array): void {
    const snap = JSON.parse(new TextDecoder().decode(data)) as {
      index: Index;
      chain: number | undefined;
      kv: [string, string][];
    };
    const expect = this.sim.checker.stateMachine.chainAt(snap.index);
    if (expect !== undefined && snap.chain !== undefined && expect !== snap.chain) {
      const err = new InvariantViolation(
        'snapshot safety (thesis §5)',
        `${this.id} restored a snapshot at ${snap.index} whose state differs from the applied log`,
      );
      this.sim._violation(this.sim.annotate(err));
      throw err;
    }
    this.kv.clear();
    for (const [k, v] of snap.kv) this.kv.set(k, v);
    this.lastApplied = snap.index;
    this.sim.checker.stateMachine.restart(this.id, this.incarnation, snap.index);
  }
}
