import type { Index, Term } from '../../types.js';
import { InvariantViolation, type NodeView } from './types.js';

/**
 * Monotonicity: within one process lifetime a node's term, commit index and applied index never
 * decrease; its durable term never decreases, even across restarts (§5.1: currentTerm is
 * persistent and increases monotonically).
 */
export class Monotonic {
  private readonly last = new Map<string, { term: Term; commit: Index; applied: Index }>();
  private readonly durable = new Map<string, Term>();

  check(view: NodeView): void {
    const key = `${view.id}#${view.incarnation}`;
    const cur = { term: view.term, commit: view.log.committed, applied: view.log.applied };
    const prev = this.last.get(key);
    if (prev !== undefined) {
      if (cur.term < prev.term)
        throw new InvariantViolation('monotonic term', `${view.id}: ${prev.term} → ${cur.term}`);
      if (cur.commit < prev.commit)
        throw new InvariantViolation(
          'monotonic commit',
          `${view.id}: ${prev.commit} → ${cur.commit}`,
        );
      if (cur.applied < prev.applied)
        throw new InvariantViolation(
          'monotonic applied',
          `${view.id}: ${prev.applied} → ${cur.applied}`,
        );
    }
    this.last.set(key, cur);
    const d = this.durable.get(view.id) ?? 0;
    if (view.durableTerm < d) {
      throw new InvariantViolation(
        'monotonic durable term (§5.1)',
        `${view.id}: ${d} → ${view.durableTerm}`,
      );
    }
    this.durable.set(view.id, view.durableTerm);
  }
}
