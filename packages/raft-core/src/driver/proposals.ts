/**
 * Proposal promises of the driver (proposals and membership changes). One rule: every promise
 * handed out settles exactly once — with the state machine's result, with a definite
 * `ProposalDropped`, or with `OutcomeUnknown` when this node can no longer tell.
 */
import { RaftError } from '../errors.js';
import type { Entry, Index, Term } from '../types.js';

type Resolve = (r: never) => void;
type Reject = (e: Error) => void;

// The resolving functions of the promise being created: one executor for every proposal, so a
// proposal allocates its promise and that promise's resolving functions, and nothing else here
// (no executor closure, no record, no Map entry).
let capturedResolve: Resolve = noop;
let capturedReject: Reject = noop;
function capture(resolve: Resolve, reject: Reject): void {
  capturedResolve = resolve;
  capturedReject = reject;
}
function noop(): void {}

/** A pending proposal taken out of the columns to be rejected (slow paths, not per entry). */
interface Pending {
  readonly index: Index;
  readonly reject: Reject;
}

/**
 * `ProposalTracker` holds the promise of every proposal awaiting its entry's outcome.
 *
 * The pending proposals are kept in index order, column-wise, at positions `[head, tail)`:
 * position `k` holds the proposal at index `idx[k]`. NB: a leader's proposals take increasing
 * indexes and its entries are applied in index order, so `add` appends and `applied` takes the
 * head (the simulator checks that no proposal stays pending at an applied index); an index
 * taken again after a truncation is placed by binary search. Positions from `tail` on are
 * spare capacity: under load the tracker empties after every batch, and arrays emptied by
 * `length = 0` would be regrown each time.
 * Invariants: `idx` is strictly increasing over `[head, tail)`; every column has the same
 * length, at least `tail`; spare slots hold no resolving functions.
 */
export class ProposalTracker<R> {
  private readonly idx: Index[] = [];
  private readonly terms: Term[] = [];
  /** Tick after which the outcome is declared unknown. */
  private readonly deadlines: number[] = [];
  private readonly resolves: Resolve[] = [];
  private readonly rejects: Reject[] = [];
  private head = 0;
  private tail = 0;

  get size(): number {
    return this.tail - this.head;
  }

  /**
   * A promise for the proposal at (`index`, `term`). An unsettled proposal at the same index
   * (this node lost leadership, its tail was truncated, and it now leads again) can never
   * commit — the leader's log has another entry there — so it is rejected `ProposalDropped`.
   */
  add<T = R>(index: Index, term: Term, deadline: number): Promise<T> {
    const p = new Promise<T>(capture);
    const resolve = capturedResolve;
    const reject = capturedReject;
    capturedResolve = noop;
    capturedReject = noop;
    const t = this.tail;
    if (t === this.head || (this.idx[t - 1] as Index) < index) {
      if (t < this.idx.length) {
        this.idx[t] = index;
        this.terms[t] = term;
        this.deadlines[t] = deadline;
        this.resolves[t] = resolve;
        this.rejects[t] = reject;
      } else {
        this.idx.push(index);
        this.terms.push(term);
        this.deadlines.push(deadline);
        this.resolves.push(resolve);
        this.rejects.push(reject);
      }
      this.tail = t + 1;
      return p;
    }
    const pos = this.lowerBound(index);
    if (this.idx[pos] !== index) {
      this.idx.splice(pos, 0, index);
      this.terms.splice(pos, 0, term);
      this.deadlines.splice(pos, 0, deadline);
      this.resolves.splice(pos, 0, resolve);
      this.rejects.splice(pos, 0, reject);
      this.tail = t + 1;
      return p;
    }
    const oldTerm = this.terms[pos] as Term;
    const oldReject = this.rejects[pos] as Reject;
    this.terms[pos] = term;
    this.deadlines[pos] = deadline;
    this.resolves[pos] = resolve;
    this.rejects[pos] = reject;
    oldReject(
      new RaftError(
        'ProposalDropped',
        `proposal at index ${index} (term ${oldTerm}) was replaced at term ${term}`,
      ),
    );
    return p;
  }

  /** The entry at `e.index` was applied with `result`. */
  applied(e: Entry, result: unknown): void {
    const h = this.head;
    if (h === this.tail) return;
    let pos = h;
    if (this.idx[h] !== e.index) {
      if ((this.idx[h] as Index) > e.index) return;
      pos = this.lowerBound(e.index);
      if (pos === this.tail || this.idx[pos] !== e.index) return;
    }
    const term = this.terms[pos] as Term;
    const resolve = this.resolves[pos] as Resolve;
    const reject = this.rejects[pos] as Reject;
    this.removeAt(pos);
    if (term === e.term) resolve(result as never);
    else {
      // Log matching: another entry committed at this index, so ours never will be.
      reject(
        new RaftError(
          'ProposalDropped',
          `proposal at index ${e.index} was superseded at term ${e.term}`,
        ),
      );
    }
  }

  /** Rejects every proposal at index ≤ `upTo` (`le`) or > `from` (`gt`) as OutcomeUnknown. */
  unknown(which: { le: Index } | { gt: Index }, why: string): void {
    const hit =
      'le' in which ? (index: Index) => index <= which.le : (index: Index) => index > which.gt;
    for (const p of this.take((k) => hit(this.idx[k] as Index))) {
      p.reject(new RaftError('OutcomeUnknown', `proposal at index ${p.index}: ${why}`));
    }
  }

  /** Rejects proposals whose deadline passed (`now` ≥ deadline) as OutcomeUnknown. */
  expire(now: number, timeoutMs: number): void {
    for (const p of this.take((k) => (this.deadlines[k] as number) <= now)) {
      p.reject(
        new RaftError(
          'OutcomeUnknown',
          `proposal at index ${p.index} was not applied here within ${timeoutMs} ms; it may still commit`,
        ),
      );
    }
  }

  /** Rejects everything with `reason` (the node stopped). */
  failAll(reason: Error): void {
    for (const p of this.take(() => true)) p.reject(reason);
  }

  /** Indexes of the pending proposals, in increasing order. */
  indexes(): Index[] {
    return this.idx.slice(this.head, this.tail);
  }

  /** Position of the first pending proposal with index ≥ `index` (`tail` if none). */
  private lowerBound(index: Index): number {
    let lo = this.head;
    let hi = this.tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.idx[mid] as Index) < index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Forgets the proposal at position `pos` (the head, on the fast path). */
  private removeAt(pos: number): void {
    if (pos !== this.head) {
      for (const col of this.columns()) col.splice(pos, 1);
      this.tail--;
      return;
    }
    // Drop the references the slot holds (its promise's resolving functions) right away.
    this.resolves[pos] = noop;
    this.rejects[pos] = noop;
    this.head = pos + 1;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    } else if (this.head > 1024 && this.head * 2 > this.tail) {
      // Amortized O(1): the live part is shorter than the part dropped.
      this.moveDown(this.head, this.tail);
    }
  }

  /** Moves the live positions `[from, to)` down to `[0, to - from)`. */
  private moveDown(from: number, to: number): void {
    for (const col of this.columns()) col.copyWithin(0, from, to);
    this.clearSpare(to - from, to);
    this.head = 0;
    this.tail = to - from;
  }

  /** Spare slots `[from, to)` let go of the resolving functions they still refer to. */
  private clearSpare(from: number, to: number): void {
    this.resolves.fill(noop, from, to);
    this.rejects.fill(noop, from, to);
  }

  /**
   * Removes the pending proposals at the positions `pick` selects and returns them, in index
   * order. The caller rejects them once this tracker is consistent again.
   */
  private take(pick: (k: number) => boolean): Pending[] {
    const out: Pending[] = [];
    const t = this.tail;
    let w = 0;
    for (let k = this.head; k < t; k++) {
      if (pick(k)) {
        out.push({ index: this.idx[k] as Index, reject: this.rejects[k] as Reject });
        continue;
      }
      this.idx[w] = this.idx[k] as Index;
      this.terms[w] = this.terms[k] as Term;
      this.deadlines[w] = this.deadlines[k] as number;
      this.resolves[w] = this.resolves[k] as Resolve;
      this.rejects[w] = this.rejects[k] as Reject;
      w++;
    }
    this.clearSpare(w, t);
    this.head = 0;
    this.tail = w;
    return out;
  }

  private columns(): unknown[][] {
    return [this.idx, this.terms, this.deadlines, this.resolves, this.rejects];
  }
}
