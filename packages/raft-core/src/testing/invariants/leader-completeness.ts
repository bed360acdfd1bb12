import type { CommittedImmutable } from './committed-immutable.js';
import { type ChainState, InvariantViolation, type NodeView } from './types.js';

/**
 * Leader Completeness (§5.4.1): if an entry is committed in a given term, it is present in the
 * logs of the leaders of all higher terms.
 */
export function checkLeaderCompleteness(
  view: NodeView,
  chain: ChainState,
  committed: CommittedImmutable,
): void {
  if (view.role !== 'leader') return;
  const need = committed.maxCommittedBefore(view.term);
  if (need === 0) return;
  if (view.log.lastIndex() < need || chain.hashes[need] !== committed.hashes[need]) {
    throw new InvariantViolation(
      'leader completeness (§5.4.1)',
      `leader ${view.id} of term ${view.term} lacks committed entry ${need}`,
    );
  }
}
