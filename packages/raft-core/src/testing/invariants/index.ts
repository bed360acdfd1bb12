import type { Index } from '../../types.js';
import { type CommitView, checkCommitSafety, type DurableLast } from './commit-safety.js';
import { CommittedImmutable } from './committed-immutable.js';
import { ConfigurationSafety } from './configuration.js';
import { ElectionSafety } from './election-safety.js';
import { checkLeaderCompleteness } from './leader-completeness.js';
import { LogMatching } from './log-matching.js';
import { Monotonic } from './monotonic.js';
import { ReadFreshness } from './read-freshness.js';
import { StateMachineSafety } from './state-machine-safety.js';
import type { NodeView } from './types.js';

export type { CommitView, DurableLast } from './commit-safety.js';
export { ConfigurationSafety, confKey } from './configuration.js';
export { ReadFreshness } from './read-freshness.js';
export { InvariantViolation, type NodeView } from './types.js';

/**
 * `InvariantChecker` checks Raft's safety properties (Figure 3) over a set of live nodes after
 * every simulation step: election safety, log matching, leader completeness, state machine
 * safety, committed entries never change, monotonic term/commit/applied. Incremental: each
 * call costs O(nodes + new entries).
 */
export class InvariantChecker {
  /** At most one leader per term (§5.2). */
  readonly electionSafety = new ElectionSafety();
  /** Entries with the same index and term have identical prefixes (§5.3). */
  readonly logMatching = new LogMatching();
  /** A committed entry never changes on any node. */
  readonly committed = new CommittedImmutable();
  /** Term, commit and applied index never go backwards. */
  readonly monotonic = new Monotonic();
  /** Every node's configuration is the one its log defines. */
  readonly configuration = new ConfigurationSafety();
  /** Every node applies the same entry at each index, in order (§5.4.3). */
  readonly stateMachine = new StateMachineSafety((e) => this.configuration.onFirstApply(e));
  /** Every linearizable read reflects every entry committed before it began. */
  readonly reads = new ReadFreshness();

  /** The highest index any node has been seen to commit (checked steps only). */
  committedHighWater(): Index {
    return this.committed.hashes.length - 1;
  }

  /**
   * Commit safety over live nodes and everyone's durable logs (see `checkCommitSafety`).
   * Throws {@link InvariantViolation}.
   */
  checkCommits(nodes: readonly CommitView[], durable: DurableLast): void {
    checkCommitSafety(nodes, durable);
  }

  /** Throws {@link InvariantViolation} on the first broken property. */
  check(views: Iterable<NodeView>): void {
    const compacted = (i: Index): number | undefined => this.committed.hashes[i];
    for (const v of views) {
      this.monotonic.check(v);
      this.electionSafety.check(v);
      const chain = this.logMatching.check(v, compacted);
      this.committed.check(v, chain);
      checkLeaderCompleteness(v, chain, this.committed);
      // Between Readies, the configuration must be the one the log defines at `applied`.
      if (v.conf !== undefined && !v.busy && v.log.pendingSnapshot === null)
        this.configuration.checkNode(v.id, v.log.applied, v.conf);
    }
  }

  /** Drops per-lifetime state of a crashed node. */
  forget(id: string, incarnation: number): void {
    this.logMatching.forget(id, incarnation);
    this.committed.forget(id, incarnation);
  }
}
