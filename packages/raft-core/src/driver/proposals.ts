/**
 * Proposal promises of the driver (proposals and membership changes). One rule: every promise
 * handed out settles exactly once — with the state machine's result, with a definite
 * `ProposalDropped`, or with `OutcomeUnknown` when this node can no longer tell.
 */
import { RaftError } from '../errors.js';
import type { Entry, Index, Term } from '../types.js';

interface Pending {
  readonly term: Term;
  /** Tick after which the outcome is declared unknown. */
  readonly deadline: number;
  readonly resolve: (r: never) => void;
  readonly reject: (e: Error) => void;
}

/** `ProposalTracker` holds the promise of every proposal awaiting its entry's outcome. */
export class ProposalTracker<R> {
  private readonly pending = new Map<Index, Pending>();

  get size(): number {
    return this.pending.size;
  }

  /**
   * A promise for the proposal at (`index`, `term`). An unsettled proposal at the same index
   * (this node lost leadership, its tail was truncated, and it now leads again) can never
   * commit — the leader's log has another entry there — so it is rejected `ProposalDropped`.
   */
  add<T = R>(index: Index, term: Term, deadline: number): Promise<T> {
    const old = this.pending.get(index);
    if (old !== undefined) {
      this.pending.delete(index);
      old.reject(
        new RaftError(
          'ProposalDropped',
          `proposal at index ${index} (term ${old.term}) was replaced at term ${term}`,
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.pending.set(index, { term, deadline, resolve: resolve as (r: never) => void, reject });
    });
  }

  /** The entry at `e.index` was applied with `result`. */
  applied(e: Entry, result: unknown): void {
    const p = this.pending.get(e.index);
    if (p === undefined) return;
    this.pending.delete(e.index);
    if (p.term === e.term) p.resolve(result as never);
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

  /** Rejects every proposal at index ≤ `upTo` (`le`) or > `from` (`gt`) as OutcomeUnknown. */
  unknown(which: { le: Index } | { gt: Index }, why: string): void {
    for (const [index, p] of this.pending) {
      const hit = 'le' in which ? index <= which.le : index > which.gt;
      if (!hit) continue;
      this.pending.delete(index);
      p.reject(new RaftError('OutcomeUnknown', `proposal at index ${index}: ${why}`));
    }
  }

  /** Rejects proposals whose deadline passed (`now` ≥ deadline) as OutcomeUnknown. */
  expire(now: number, timeoutMs: number): void {
    for (const [index, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(index);
      p.reject(
        new RaftError(
          'OutcomeUnknown',
          `proposal at index ${index} was not applied here within ${timeoutMs} ms; it may still commit`,
        ),
      );
    }
  }

  /** Rejects everything with `reason` (the node stopped). */
  failAll(reason: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(reason);
  }

  indexes(): Index[] {
    return [...this.pending.keys()];
  }
}
