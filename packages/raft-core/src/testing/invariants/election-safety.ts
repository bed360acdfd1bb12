import type { NodeId, Term } from '../../types.js';
import { InvariantViolation, type NodeView } from './types.js';

/** Election Safety (§5.2): at most one leader can be elected in a given term. */
export class ElectionSafety {
  private readonly leaders = new Map<Term, NodeId>();

  check(view: NodeView): void {
    if (view.role !== 'leader') return;
    const prev = this.leaders.get(view.term);
    if (prev === undefined) this.leaders.set(view.term, view.id);
    else if (prev !== view.id) {
      throw new InvariantViolation(
        'election safety (§5.2)',
        `${prev} and ${view.id} both led term ${view.term}`,
      );
    }
  }
}
