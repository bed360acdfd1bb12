import { RaftError } from '../../errors.js';
import type { Model, Operation } from './model.js';

/** `CheckOutcome` is a verdict: linearizable, provably not, or undecided within the budget. */
export type CheckOutcome = 'ok' | 'illegal' | 'unknown';

/** `CheckOptions` bounds the search; the checker reads no clock of its own. */
export interface CheckOptions {
  /**
   * The search budget of each partition, in steps (one step = one entry visited by the
   * depth-first search). A partition that exhausts it is `unknown`. Per partition, so one
   * pathological key cannot starve the others; total work is at most partitions × maxSteps.
   * Default {@link DEFAULT_MAX_STEPS}; `Infinity` disables the budget.
   */
  readonly maxSteps?: number;
  /** A wall-clock budget for the whole check; requires `now`. */
  readonly timeoutMs?: number;
  /** The clock `timeoutMs` is measured on (e.g. `performance.now`), polled every 4096 steps. */
  readonly now?: () => number;
}

/** `PartitionResult` is the verdict on one partition (one key for a keyed model). */
export interface PartitionResult {
  /** The partition's key, or `null` when the model has no `partitionKey`. */
  readonly key: string | null;
  /** Whether this partition is linearizable, illegal, or undecided. */
  readonly result: CheckOutcome;
  /** How many operations of the history fell in this partition. */
  readonly operations: number;
  /** Search steps spent; 0 if the partition was skipped after a timeout. */
  readonly steps: number;
}

/**
 * `Violation` explains an illegal partition. Operations are named by their index in the
 * history passed to {@link checkOperations}.
 */
export interface Violation {
  /** The partition's key, or `null` when the model has no `partitionKey`. */
  readonly key: string | null;
  /** The longest sequence of operations the search could linearize, in linearization order. */
  readonly longestPrefix: readonly number[];
  /**
   * The operations that could come next after `longestPrefix` in real-time order (called
   * before the earliest pending return). Each of them is illegal in the state after the prefix.
   */
  readonly frontier: readonly number[];
  /** A multi-line human-readable account of the above, using the model's `describe*`. */
  readonly message: string;
}

/**
 * `CheckResult` is the verdict on a whole history: `illegal` if any partition is, else
 * `unknown` if any partition ran out of budget or time, else `ok`.
 */
export type CheckResult =
  | {
      /** Every partition is linearizable. */
      readonly result: 'ok';
      /** Search steps spent in total. */
      readonly steps: number;
      /** One result per partition of the history. */
      readonly partitions: PartitionResult[];
    }
  | {
      /** Some partition has no linearization: the history is not linearizable. */
      readonly result: 'illegal';
      /** Search steps spent in total. */
      readonly steps: number;
      /** One result per partition of the history. */
      readonly partitions: PartitionResult[];
      /** One per illegal partition, in partition order; never empty. */
      readonly violations: Violation[];
    }
  | {
      /** The search gave up before deciding (no partition was found illegal). */
      readonly result: 'unknown';
      /** Search steps spent in total. */
      readonly steps: number;
      /** One result per partition of the history. */
      readonly partitions: PartitionResult[];
      /** Which budget ran out: `maxSteps` or the `timeoutMs` deadline. */
      readonly reason: 'maxSteps' | 'timeout';
    };

/** `DEFAULT_MAX_STEPS` is the default per-partition search budget (roughly a second). */
export const DEFAULT_MAX_STEPS = 5_000_000;

const CLOCK_POLL_MASK = 4095;
const NIL = -1;

/**
 * `checkOperations` decides whether `history` is linearizable with respect to `model`, using
 * the Wing & Gong (1993) depth-first search with Lowe's (2017) cache of (linearized set,
 * state) pairs, one partition at a time, as porcupine does.
 *
 * - Ties: at equal timestamps calls are ordered before returns, so an operation called at the
 *   instant another returns counts as concurrent with it. This can only accept more histories,
 *   never flag a linearizable one; give distinct timestamps when such events are truly ordered.
 * - Unknown outcomes: see {@link Operation}; an op with `return: Infinity` may linearize
 *   anywhere after its call, including after everything (i.e. never).
 * - Cost: a step is one `model.step` plus a cache probe (O(1) for bounded concurrency: the
 *   cache stores only the window of the bitset that is not all ones). Each (linearized set,
 *   state) pair is explored once and legal read-only ops are taken without branching (see
 *   `Model.readOnly`), so a history with a few ops in flight per key checks in a few steps per
 *   op. The worst case is exponential in the ops in flight, hence `maxSteps`; unknown-outcome
 *   ops are the costliest, as they stay in flight until the end.
 *
 * @throws RaftError `InvalidArgument` for malformed times or options.
 */
export function checkOperations<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<NoInfer<Input>, NoInfer<Output>>[],
  options: CheckOptions = {},
): CheckResult {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  if (!(maxSteps >= 1)) invalid(`maxSteps must be >= 1, got ${maxSteps}`);
  const { now, timeoutMs } = options;
  if (timeoutMs !== undefined && now === undefined) invalid('timeoutMs requires a now() clock');
  const deadline = timeoutMs !== undefined && now !== undefined ? now() + timeoutMs : Infinity;
  history.forEach((op, i) => {
    if (!Number.isFinite(op.call) || Number.isNaN(op.return) || op.return < op.call) {
      invalid(`operation #${i}: need a finite call <= return, got [${op.call}, ${op.return}]`);
    }
  });

  const partitions: PartitionResult[] = [];
  const violations: Violation[] = [];
  let steps = 0;
  let reason: 'maxSteps' | 'timeout' | null = null;
  for (const [key, indices] of partitionHistory(model, history)) {
    if (reason !== 'timeout' && now !== undefined && now() >= deadline) reason = 'timeout';
    if (reason === 'timeout') {
      partitions.push({ key, result: 'unknown', operations: indices.length, steps: 0 });
      continue;
    }
    const clock = now === undefined || deadline === Infinity ? null : { now, deadline };
    const search = new Search(model, history, indices, maxSteps, clock);
    const result = search.run();
    steps += search.steps;
    partitions.push({ key, result, operations: indices.length, steps: search.steps });
    if (result === 'illegal') violations.push(search.violation(key));
    if (result === 'unknown') reason = search.timedOut ? 'timeout' : (reason ?? 'maxSteps');
  }
  if (violations.length > 0) return { result: 'illegal', steps, partitions, violations };
  if (reason !== null) return { result: 'unknown', steps, partitions, reason };
  return { result: 'ok', steps, partitions };
}

function invalid(message: string): never {
  throw new RaftError('InvalidArgument', `checkOperations: ${message}`);
}

/** Groups history indices by partition key, in order of first appearance. */
function partitionHistory<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
): Map<string | null, number[]> {
  const groups = new Map<string | null, number[]>();
  history.forEach((op, i) => {
    const key = model.partitionKey ? model.partitionKey(op.input) : null;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  return groups;
}

interface CacheEntry<State> {
  readonly low: number;
  readonly words: Uint32Array;
  readonly state: State;
  readonly hash: string | undefined;
}

/**
 * `Search` is the WGL depth-first search over one partition.
 *
 * Ops are renumbered `0..m-1` in call order (`id`). Entry node `2·id` is the call of op `id`
 * and `2·id + 1` its return; node `2m` is the list head. `next`/`prev` form a doubly linked
 * list of the not-yet-linearized entries in time order (dancing links: a lifted node keeps its
 * own pointers, so unlifting in LIFO order restores the list exactly).
 */
class Search<State, Input, Output> {
  steps = 0;
  timedOut = false;
  private readonly ops: Operation<Input, Output>[];
  /** `order[id]` is the history index of op `id`. */
  private readonly order: number[];
  /** Entry nodes sorted by (time, call before return, id). */
  private readonly sorted: Int32Array;
  /** The linearized ops as a bitset; see {@link Search.cacheAdd}. */
  private readonly bits: Uint32Array;
  /** Invariant: every word below `low` is all ones. */
  private low = 0;
  /** Invariant: every word above `high` is zero. */
  private high = -1;
  /** Zobrist hashes of the linearized set: XOR of `mix(id)` over members. */
  private h1 = 0;
  private h2 = 0;
  private readonly cache = new Map<number, CacheEntry<State>[]>();
  /** The longest linearization seen (op ids), kept incrementally; see `run`. */
  private readonly best: Int32Array;
  private bestLen = 0;

  constructor(
    private readonly model: Model<State, Input, Output>,
    history: readonly Operation<Input, Output>[],
    indices: readonly number[],
    private readonly maxSteps: number,
    private readonly clock: { now: () => number; deadline: number } | null,
  ) {
    this.order = [...indices].sort((a, b) => history[a]!.call - history[b]!.call || a - b);
    this.ops = this.order.map((i) => history[i]!);
    const m = this.ops.length;
    const time = new Float64Array(2 * m);
    this.ops.forEach((op, id) => {
      time[2 * id] = op.call;
      time[2 * id + 1] = op.return;
    });
    // Node numbers grow with (id, kind), so they break the remaining ties deterministically.
    this.sorted = Int32Array.from({ length: 2 * m }, (_, n) => n).sort(
      (a, b) => time[a]! - time[b]! || (a & 1) - (b & 1) || a - b,
    );
    this.bits = new Uint32Array(Math.ceil(m / 32));
    this.best = new Int32Array(m);
  }

  /**
   * Runs the search to a verdict.
   *
   * The search alternates two scans of the candidates (the calls before the first pending
   * return). A greedy scan looks for a legal read-only op and commits to it: linearizing it
   * now is never worse than later, since it is legal here, changes no state, and every op
   * that must precede it in real time is already linearized. Only if there is none does the
   * normal WGL scan branch over the other candidates. A greedy ("forced") frame has no
   * alternatives, so backtracking pops through it.
   */
  run(): CheckOutcome {
    const m = this.ops.length;
    const head = 2 * m;
    const next = new Int32Array(2 * m + 1).fill(NIL);
    const prev = new Int32Array(2 * m + 1).fill(NIL);
    let last = head;
    for (const n of this.sorted) {
      next[last] = n;
      prev[n] = last;
      last = n;
    }
    const readOnly = new Uint8Array(m);
    this.ops.forEach((op, id) => {
      readOnly[id] = this.model.readOnly?.(op.input, op.output) ? 1 : 0;
    });
    const anyReadOnly = readOnly.includes(1);
    // stack[d] is the call node linearized at depth d, states[d] the state before it, and
    // forced[d] whether it was a greedy choice.
    const stack = new Int32Array(m);
    const forced = new Uint8Array(m);
    const states: State[] = [];
    let depth = 0;
    // Invariant: best[0..minDepth) === ids of stack[0..minDepth), so a new best copies only
    // the tail that changed (amortized O(1) per push).
    let minDepth = 0;
    let state = this.model.init();
    let greedy = anyReadOnly;
    let node = next[head]!;
    while (next[head] !== NIL) {
      if (this.steps >= this.maxSteps) return 'unknown';
      this.steps++;
      if (this.clock && (this.steps & CLOCK_POLL_MASK) === 0) {
        if (this.clock.now() >= this.clock.deadline) {
          this.timedOut = true;
          return 'unknown';
        }
      }
      if ((node & 1) === 0) {
        // A call: try to linearize its op here. The greedy scan tries only read-only ops;
        // the normal scan skips them, since the greedy scan found none of them legal.
        const id = node >> 1;
        if (readOnly[id] !== (greedy ? 1 : 0)) {
          node = next[node]!;
          continue;
        }
        const op = this.ops[id]!;
        const r = this.model.step(state, op.input, op.output);
        if (r.ok && this.cacheAdd(id, r.state)) {
          stack[depth] = node;
          forced[depth] = greedy ? 1 : 0;
          states.push(state);
          depth++;
          if (depth > this.bestLen) {
            for (let d = minDepth; d < depth; d++) this.best[d] = stack[d]! >> 1;
            this.bestLen = minDepth = depth;
          }
          state = r.state;
          // Lift the call and its return out of the list (their own pointers stay intact).
          const ret = node | 1;
          next[prev[node]!] = next[node]!;
          prev[next[node]!] = prev[node]!;
          next[prev[ret]!] = next[ret]!;
          if (next[ret] !== NIL) prev[next[ret]!] = prev[ret]!;
          greedy = anyReadOnly;
          node = next[head]!;
          continue;
        }
        if (!(r.ok && greedy)) {
          node = next[node]!;
          continue;
        }
        // The greedy choice was explored before and failed, so this state fails too.
      } else if (greedy) {
        // No legal read-only candidate: branch over the others.
        greedy = false;
        node = next[head]!;
        continue;
      }
      // Dead end (a pending return, or a failed greedy choice): pop frames until one that
      // has alternatives left, and resume its scan after it.
      do {
        if (depth === 0) return 'illegal';
        depth--;
        if (depth < minDepth) minDepth = depth;
        node = stack[depth]!;
        state = states.pop() as State;
        this.bitsDelete(node >> 1);
        const ret = node | 1;
        next[prev[ret]!] = ret;
        if (next[ret] !== NIL) prev[next[ret]!] = ret;
        next[prev[node]!] = node;
        prev[next[node]!] = node;
      } while (forced[depth]);
      greedy = false;
      node = next[node]!;
    }
    return 'ok';
  }

  /**
   * Adds op `id` to the linearized set and records (set, state) in the cache. Returns false,
   * leaving the set unchanged, when that pair was already explored (Lowe 2017: the rest of
   * the search depends only on the pair, not on the order that produced it).
   */
  private cacheAdd(id: number, state: State): boolean {
    this.bitsAdd(id);
    // Only words [low, top] vary; the rest are implied by `low` (all ones) and zero above.
    let top = this.high;
    while (top >= this.low && this.bits[top] === 0) top--;
    const key = (this.h1 >>> 0) * 0x200000 + (this.h2 >>> 11);
    const hash = this.model.hash?.(state);
    const bucket = this.cache.get(key);
    if (bucket) {
      for (const e of bucket) {
        if (e.low !== this.low || e.words.length !== top - this.low + 1) continue;
        if (!this.sameState(e, state, hash)) continue;
        let same = true;
        for (let w = 0; w < e.words.length && same; w++) same = e.words[w] === this.bits[e.low + w];
        if (same) {
          this.bitsDelete(id);
          return false;
        }
      }
    }
    const entry = { low: this.low, words: this.bits.slice(this.low, top + 1), state, hash };
    if (bucket) bucket.push(entry);
    else this.cache.set(key, [entry]);
    return true;
  }

  private sameState(e: CacheEntry<State>, state: State, hash: string | undefined): boolean {
    if (hash !== undefined && e.hash !== hash) return false;
    if (this.model.equal) return this.model.equal(e.state, state);
    return hash !== undefined || Object.is(e.state, state);
  }

  private bitsAdd(id: number): void {
    const w = id >> 5;
    this.bits[w]! |= 1 << (id & 31);
    this.h1 ^= mix(2 * id + 1);
    this.h2 ^= mix(2 * id + 2);
    if (w > this.high) this.high = w;
    while (this.low < this.bits.length && this.bits[this.low] === 0xffffffff) this.low++;
  }

  private bitsDelete(id: number): void {
    const w = id >> 5;
    this.bits[w]! &= ~(1 << (id & 31));
    this.h1 ^= mix(2 * id + 1);
    this.h2 ^= mix(2 * id + 2);
    if (w < this.low) this.low = w;
  }

  /** Explains an `illegal` verdict from the longest linearization found. */
  violation(key: string | null): Violation {
    const m = this.ops.length;
    const prefix = Array.from(this.best.subarray(0, this.bestLen));
    const inPrefix = new Uint8Array(m);
    let state = this.model.init();
    for (const id of prefix) {
      inPrefix[id] = 1;
      const op = this.ops[id]!;
      state = this.model.step(state, op.input, op.output).state;
    }
    // The frontier is every pending call sorted before the first pending return.
    const frontier: number[] = [];
    for (const n of this.sorted) {
      if (inPrefix[n >> 1]) continue;
      if (n & 1) break;
      frontier.push(n >> 1);
    }
    const describe = (id: number): string => {
      const op = this.ops[id]!;
      const what = this.model.describeOperation
        ? this.model.describeOperation(op.input, op.output)
        : `${show(op.input)} → ${show(op.output)}`;
      const ret = op.return === Infinity ? '∞' : String(op.return);
      return `  #${this.order[id]} client ${op.clientId} [${op.call}, ${ret}] ${what}`;
    };
    const where = key === null ? '' : ` (partition ${JSON.stringify(key)})`;
    const message = [
      `not linearizable${where}: longest linearizable prefix has ${prefix.length} of ${m} operations:`,
      ...prefix.map(describe),
      `state after it: ${this.model.describeState ? this.model.describeState(state) : show(state)}`,
      'none of the operations that could come next is legal in that state:',
      ...frontier.map(describe),
    ].join('\n');
    return {
      key,
      longestPrefix: prefix.map((id) => this.order[id]!),
      frontier: frontier.map((id) => this.order[id]!),
      message,
    };
  }
}

/** A 32-bit integer hash (murmur3's finalizer), used for the Zobrist keys. */
function mix(x: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
