import type { Index, NodeId } from '../types.js';
import { MajorityConfig, type VoteResult } from './majority.js';

/**
 * `JointConfig` is a pair of majority configs that must both agree (joint consensus,
 * thesis §4.3). Outside a configuration change the outgoing half is empty.
 */
export class JointConfig {
  readonly incoming: MajorityConfig;
  readonly outgoing: MajorityConfig;

  constructor(
    incoming: MajorityConfig = new MajorityConfig(),
    outgoing: MajorityConfig = new MajorityConfig(),
  ) {
    this.incoming = incoming;
    this.outgoing = outgoing;
  }

  get isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** Every voter of either half. */
  ids(): Set<NodeId> {
    const s = new Set(this.incoming.ids);
    for (const id of this.outgoing.ids) s.add(id);
    return s;
  }

  /** The largest index committed by both halves. */
  committedIndex(matchOf: (id: NodeId) => Index | undefined): Index {
    const a = this.incoming.committedIndex(matchOf);
    const b = this.outgoing.committedIndex(matchOf);
    return Math.min(a, b);
  }

  /** Won only if both halves won; lost if either lost. */
  voteResult(votes: (id: NodeId) => boolean | undefined): VoteResult {
    const a = this.incoming.voteResult(votes);
    const b = this.outgoing.voteResult(votes);
    if (a === b) return a;
    if (a === 'lost' || b === 'lost') return 'lost';
    return 'pending';
  }
}
