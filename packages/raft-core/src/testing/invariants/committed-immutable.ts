import type { Index, Term } from '../../types.js';
import { type ChainState, InvariantViolation, type NodeView } from './types.js';

/**
 * Committed entries never change (§5.4, "State Machine Safety" precondition): once any node
 * reports index i committed, every node that later reports i committed has the same prefix
 * (same chain hash) up to i. Also records, for leader completeness, the term of the leader
 * under which each index was first seen committed.
 */
export class CommittedImmutable {
  /** Chain hash of the committed prefix ending at i. */
  readonly hashes: number[] = [0];
  /** The observer's term when index i was first seen committed. */
  readonly commitTerms: Term[] = [0];
  private readonly checkedTo = new Map<string, Index>();
  /** For each commit term, the highest index first seen committed under it. */
  private readonly maxByTerm = new Map<Term, Index>();

  check(view: NodeView, chain: ChainState): void {
    const key = `${view.id}#${view.incarnation}`;
    const from = (this.checkedTo.get(key) ?? 0) + 1;
    const commit = view.log.committed;
    for (let i = from; i <= commit; i++) {
      const h = chain.hashes[i] as number;
      const g = this.hashes[i];
      if (g === undefined) {
        if (i !== this.hashes.length) {
          throw new InvariantViolation('committed immutable', `gap in committed record at ${i}`);
        }
        this.hashes.push(h);
        this.commitTerms.push(view.term);
        if ((this.maxByTerm.get(view.term) ?? 0) < i) this.maxByTerm.set(view.term, i);
      } else if (g !== h) {
        throw new InvariantViolation(
          'committed entries never change (§5.4)',
          `${view.id} has committed index ${i} with a different log prefix than previously committed`,
        );
      }
    }
    if (commit >= from) this.checkedTo.set(key, commit);
  }

  /** The highest committed index that was committed under a term < `term`. */
  maxCommittedBefore(term: Term): Index {
    let max = 0;
    for (const [t, i] of this.maxByTerm) if (t < term && i > max) max = i;
    return max;
  }

  forget(id: string, incarnation: number): void {
    this.checkedTo.delete(`${id}#${incarnation}`);
  }
}
