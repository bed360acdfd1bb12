import { RaftError } from '../errors.js';
import type { MessageHandler, Transport } from '../ports.js';
import type { Message, NodeId } from '../types.js';

/** Options of a {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Probability in [0, 1] that any one message is dropped. Default 0. */
  readonly dropRate?: number;
  /** Random source for `dropRate` (default `Math.random`); pass a seeded PRNG to repeat a run. */
  readonly random?: () => number;
  /** Most messages awaiting delivery per destination; more are dropped. Default 100,000. */
  readonly maxPending?: number;
}

/**
 * Runs `fn` on a later macrotask. NB: a macrotask, not a microtask, so that nodes exchanging
 * messages in a loop cannot starve the event loop's timers (the driver's clock).
 */
function later(fn: () => void): void {
  // biome-ignore lint/style/noRestrictedGlobals: a real-time testing transport, not the pure core or the simulator.
  if (typeof setImmediate === 'function') setImmediate(fn);
  // biome-ignore lint/style/noRestrictedGlobals: fallback outside Node.
  else setTimeout(fn, 0);
}

/**
 * `MemoryNetwork` is an in-process hub connecting {@link MemoryTransport}s by node id, for
 * real-time driver tests and examples. Delivery is asynchronous (a later macrotask, in send
 * order) and by reference: the receiver gets the very objects that were sent, which Raft never
 * mutates. Optional faults: symmetric partitions and random drops.
 *
 * NB: not for the deterministic simulator, which schedules its own network.
 */
export class MemoryNetwork {
  private readonly live = new Map<NodeId, MemoryTransport>();
  /** Destination → messages awaiting the next flush. */
  private inboxes = new Map<NodeId, Message[]>();
  private flushScheduled = false;
  /** Cut links, as `a\0b` with a < b. */
  private readonly cut = new Set<string>();
  private dropRate: number;
  private readonly random: () => number;
  private readonly maxPending: number;
  /** Messages handed to a handler, and messages dropped (partition, drop rate, full, no receiver). */
  readonly counters = {
    /** Messages handed to their addressee. */
    delivered: 0,
    /** Messages lost: a partition, the drop rate, a full queue, or no receiver. */
    dropped: 0,
  };

  constructor(options: MemoryNetworkOptions = {}) {
    this.dropRate = options.dropRate ?? 0;
    this.random = options.random ?? Math.random;
    this.maxPending = options.maxPending ?? 100_000;
  }

  /**
   * The transport of node `id`. A node may get a new transport once its previous one stopped
   * (a restart); asking again while one is running throws `RaftError('InvalidArgument')`.
   */
  transport(id: NodeId): MemoryTransport {
    const current = this.live.get(id);
    if (current !== undefined && !current.isStopped) {
      throw new RaftError('InvalidArgument', `node ${id} already has a running transport`);
    }
    const t = new MemoryTransport(this, id);
    this.live.set(id, t);
    return t;
  }

  /** Cut the link between `a` and `b` in both directions until {@link heal}. */
  partition(a: NodeId, b: NodeId): void {
    this.cut.add(a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);
  }

  /** Cut `id` off from every other node (current and future) until {@link heal}. */
  isolate(id: NodeId): void {
    this.cut.add(`*\u0000${id}`);
  }

  /** Restore every cut link. */
  heal(): void {
    this.cut.clear();
  }

  /** Change the probability of dropping each message. */
  setDropRate(rate: number): void {
    this.dropRate = rate;
  }

  private isCut(a: NodeId, b: NodeId): boolean {
    if (this.cut.size === 0) return false;
    return (
      this.cut.has(a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`) ||
      this.cut.has(`*\u0000${a}`) ||
      this.cut.has(`*\u0000${b}`)
    );
  }

  /** @internal Called by {@link MemoryTransport.send}. */
  route(from: NodeId, to: NodeId, messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const dest = this.live.get(to);
    if (dest === undefined || dest.isStopped || this.isCut(from, to)) {
      this.counters.dropped += messages.length;
      return;
    }
    let inbox = this.inboxes.get(to);
    if (inbox === undefined) {
      inbox = [];
      this.inboxes.set(to, inbox);
    }
    for (const m of messages) {
      if (inbox.length >= this.maxPending || (this.dropRate > 0 && this.random() < this.dropRate)) {
        this.counters.dropped++;
      } else {
        inbox.push(m);
      }
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      later(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const inboxes = this.inboxes;
    this.inboxes = new Map();
    let failure: { error: unknown } | null = null;
    for (const [to, messages] of inboxes) {
      for (const m of messages) {
        // Look the receiver up per message: a handler may stop (or restart) a node mid-batch.
        const dest = this.live.get(to);
        if (dest === undefined || m.to !== to) {
          this.counters.dropped++;
          continue;
        }
        try {
          if (dest.deliver(m)) this.counters.delivered++;
          else this.counters.dropped++;
        } catch (error) {
          failure ??= { error };
        }
      }
    }
    // A throwing handler is a bug in the test or the node: surface it, after delivering the rest.
    if (failure !== null) throw failure.error;
  }
}

/**
 * `MemoryTransport` is the in-process {@link Transport} of one node on a {@link MemoryNetwork}
 * (the reference implementation checked by `transportConformance`).
 */
export class MemoryTransport implements Transport {
  private handler: MessageHandler | null = null;
  private stopped = false;

  /** @internal Use {@link MemoryNetwork.transport}. */
  constructor(
    private readonly network: MemoryNetwork,
    /** The node this transport belongs to. */
    readonly id: NodeId,
  ) {}

  /** True once `stop()` was called. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Start delivering messages addressed to this node to `handler`.
   *
   * Correctness:
   * - only messages whose `to` is this node are delivered, each at most once;
   * - messages that arrive before `start` are dropped;
   * - rejects with `RaftError('Stopped')` after `stop()`.
   */
  async start(handler: MessageHandler): Promise<void> {
    if (this.stopped) throw new RaftError('Stopped', `transport of ${this.id} was stopped`);
    this.handler = handler;
  }

  /**
   * Queue `messages` for `to`; they are delivered on a later macrotask.
   *
   * Correctness:
   * - never throws: messages to unknown, stopped or partitioned nodes are dropped;
   * - delivers the sent objects themselves (by reference), in send order per destination;
   * - bounded: at most `maxPending` messages await delivery per destination.
   */
  send(to: NodeId, messages: readonly Message[]): void {
    if (this.stopped) return;
    this.network.route(this.id, to, messages);
  }

  /**
   * Stop sending and receiving. Idempotent.
   *
   * Correctness: the handler is never called once `stop()` has been called.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.handler = null;
  }

  /** @internal Called by the network; false if not started or stopped. */
  deliver(m: Message): boolean {
    const handler = this.handler;
    if (handler === null || this.stopped) return false;
    handler(m);
    return true;
  }
}
