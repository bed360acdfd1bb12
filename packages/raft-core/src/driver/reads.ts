/**
 * Read promises of the driver (`RaftNode.read()`): batched ReadIndex requests, matched to
 * their answers by a context that is unique across restarts, released once the state machine
 * applied the read index, and always settled: resolved, or rejected within their deadline.
 */
import { NotLeaderError, RaftError } from '../errors.js';
import type { ReadState } from '../raft.js';
import type { Index, NodeId } from '../types.js';

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/** A batch of `read()` calls sharing one ReadIndex request. */
interface ReadBatch {
  readonly context: number;
  readonly waiters: Waiter[];
  /** Tick count after which the batch fails with `Timeout`. */
  readonly deadline: number;
  /** Tick count when its ReadIndex request was last made. */
  sentAt: number;
  /** The read index, once known (-1 before). */
  index: Index;
}

/** Bits of a context that count reads; the bits above hold a per-start random nonce. */
const COUNTER_BITS = 21;
const COUNTER_LIMIT = 2 ** COUNTER_BITS;
const NONCE_LIMIT = 2 ** (53 - COUNTER_BITS);

/**
 * `ReadTracker` owns every pending `read()`.
 *
 * NB: contexts must never repeat across restarts of a node: an answer to a read sent by an
 * earlier incarnation (delayed in the network, same term) would otherwise be taken for the
 * answer to a new read and serve it at an index older than writes that completed before it
 * began. Each context is a random nonce (drawn at start and whenever the counter wraps) times
 * 2^21 plus a counter.
 */
export class ReadTracker {
  private nonce: number;
  private counter = 0;
  private open: ReadBatch | null = null;
  /** Batches waiting for their read index, by context. */
  private readonly inFlight = new Map<number, ReadBatch>();
  /** Batches with a read index, waiting for the state machine to apply it. */
  private waitingApply: ReadBatch[] = [];

  constructor(private readonly random: () => number) {
    this.nonce = this.drawNonce();
  }

  private drawNonce(): number {
    return Math.floor(this.random() * NONCE_LIMIT) % NONCE_LIMIT;
  }

  private nextContext(): number {
    this.counter++;
    if (this.counter >= COUNTER_LIMIT) {
      this.counter = 1;
      this.nonce = this.drawNonce();
    }
    return this.nonce * COUNTER_LIMIT + this.counter;
  }

  /**
   * Adds a read to the batch of this turn. Returns the batch's context when a new batch was
   * opened (the caller submits it once the turn's code ran), else null.
   */
  add(deadline: number, resolve: () => void, reject: (e: Error) => void): number | null {
    const w: Waiter = { resolve, reject };
    if (this.open !== null) {
      this.open.waiters.push(w);
      return null;
    }
    this.open = { context: this.nextContext(), waiters: [w], deadline, index: -1, sentAt: 0 };
    return this.open.context;
  }

  /** Closes the open batch with `context` (requested at tick `now`); it waits for its state. */
  submitted(context: number, now: number): void {
    const b = this.open;
    if (b === null || b.context !== context) return;
    this.open = null;
    b.sentAt = now;
    this.inFlight.set(context, b);
  }

  /**
   * Contexts of batches still without a read index whose request was made `every` ticks ago or
   * earlier (their MsgReadIndex or its answer may have been lost): the caller asks again with
   * the same context, and an answer to either request serves the batch once.
   */
  due(now: number, every: number): number[] {
    const out: number[] = [];
    for (const b of this.inFlight.values()) {
      if (now - b.sentAt < every) continue;
      b.sentAt = now;
      out.push(b.context);
    }
    return out;
  }

  /** Closes the open batch with `context` and rejects it (the request could not be made). */
  failOpen(context: number, reason: Error): void {
    const b = this.open;
    if (b === null || b.context !== context) return;
    this.open = null;
    for (const w of b.waiters) w.reject(reason);
  }

  /** Read states from a Ready: batches learn their index (or fail if the leader refused). */
  onReadStates(states: readonly ReadState[], leaderHint: NodeId | null): void {
    for (const rs of states) {
      const b = this.inFlight.get(rs.context);
      if (b === undefined) continue;
      this.inFlight.delete(rs.context);
      if (rs.index < 0) {
        const err = new NotLeaderError(leaderHint);
        for (const w of b.waiters) w.reject(err);
        continue;
      }
      b.index = rs.index;
      this.waitingApply.push(b);
    }
  }

  /** Resolves the batches whose read index the state machine has applied. */
  release(applied: Index): void {
    if (this.waitingApply.length === 0) return;
    const still: ReadBatch[] = [];
    for (const b of this.waitingApply) {
      if (b.index <= applied) for (const w of b.waiters) w.resolve();
      else still.push(b);
    }
    this.waitingApply = still;
  }

  /** Rejects batches past their deadline, whether or not they have a read index yet. */
  expire(now: number): void {
    for (const [ctx, b] of this.inFlight) {
      if (b.deadline > now) continue;
      this.inFlight.delete(ctx);
      const err = new RaftError('Timeout', 'read index not confirmed in time');
      for (const w of b.waiters) w.reject(err);
    }
    if (this.waitingApply.length === 0) return;
    const still: ReadBatch[] = [];
    for (const b of this.waitingApply) {
      if (b.deadline > now) {
        still.push(b);
        continue;
      }
      const err = new RaftError('Timeout', `read index ${b.index} not applied in time`);
      for (const w of b.waiters) w.reject(err);
    }
    this.waitingApply = still;
  }

  /** Rejects every read, open batches included (the node stopped). */
  failAll(reason: Error): void {
    const all = [
      ...(this.open === null ? [] : [this.open]),
      ...this.inFlight.values(),
      ...this.waitingApply,
    ];
    this.open = null;
    this.inFlight.clear();
    this.waitingApply = [];
    for (const b of all) for (const w of b.waiters) w.reject(reason);
  }

  /** Number of unsettled reads. */
  get size(): number {
    let n = this.open?.waiters.length ?? 0;
    for (const b of this.inFlight.values()) n += b.waiters.length;
    for (const b of this.waitingApply) n += b.waiters.length;
    return n;
  }
}
