import type { Index } from '../../types.js';
import { InvariantViolation } from './types.js';

/**
 * Read freshness (thesis §6.4): a linearizable read reflects every entry that was committed —
 * anywhere in the cluster — before the read began. The checker records the highest index any
 * node had seen committed when `read()` was called, and the node's applied index when the read
 * was served; the second must not be lower.
 *
 * This is stronger than what a history checker can see: it needs no write to the same key in
 * the read's window, so a stale read (a deposed leader's lease, a late ReadIndex answer matched
 * to the wrong read, a round answered without a quorum) is caught whenever it happens, not only
 * when a client happens to observe it.
 */
export class ReadFreshness {
  /** Reads checked so far. */
  checked = 0;

  /**
   * Checks one served read. `committedAtStart` is the cluster-wide committed high-water mark
   * when the read began; `appliedAtServe` the serving node's applied index when it answered.
   */
  check(node: string, committedAtStart: Index, appliedAtServe: Index): void {
    this.checked++;
    if (appliedAtServe < committedAtStart) {
      throw new InvariantViolation(
        'read freshness (§6.4)',
        `a read at ${node} began after index ${committedAtStart} was committed, but was served at applied index ${appliedAtServe}`,
      );
    }
  }
}
