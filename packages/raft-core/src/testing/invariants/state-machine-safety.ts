import type { Entry, Index, NodeId } from '../../types.js';
import { InvariantViolation, mixBytes, mixNumber } from './types.js';

/**
 * State Machine Safety (§5.4.3): if a server has applied a log entry at a given index to its
 * state machine, no other server will ever apply a different log entry for the same index.
 * Also checks the driver applies in order, each index exactly once per lifetime.
 */
export class StateMachineSafety {
  private readonly applied = new Map<Index, number>();
  /** The first entry applied at each index (by anyone). */
  readonly entries = new Map<Index, Entry>();
  /** `chains[i]` hashes the applied prefix 1..i (for validating snapshots). */
  private readonly chains = new Map<Index, number>([[0, 0]]);
  private readonly next = new Map<string, Index>();

  /** `onFirst` sees each index's entry the first time anyone applies it (ascending). */
  constructor(private readonly onFirst: (e: Entry) => void = () => {}) {}

  /** Called from the recording state machine on every apply. */
  onApply(id: NodeId, incarnation: number, e: Entry, startIndex: Index): void {
    const key = `${id}#${incarnation}`;
    const expect = this.next.get(key) ?? startIndex + 1;
    if (e.index !== expect) {
      throw new InvariantViolation(
        'in-order apply',
        `${id} applied index ${e.index}, expected ${expect}`,
      );
    }
    this.next.set(key, e.index + 1);
    const h = mixBytes(mixNumber(mixNumber(0, e.term), e.type), e.data);
    const prev = this.applied.get(e.index);
    if (prev === undefined) {
      this.applied.set(e.index, h);
      this.entries.set(e.index, e);
      this.chains.set(e.index, mixNumber(this.chains.get(e.index - 1) ?? 0, h));
      this.onFirst(e);
    } else if (prev !== h) {
      throw new InvariantViolation(
        'state machine safety (§5.4.3)',
        `${id} applied a different entry at index ${e.index}`,
      );
    }
  }

  /** The hash of the applied prefix ending at `index`, if known. */
  chainAt(index: Index): number | undefined {
    return this.chains.get(index);
  }

  /** Resets the per-lifetime order check after a restart from `startIndex` (the snapshot). */
  restart(id: NodeId, incarnation: number, startIndex: Index): void {
    this.next.set(`${id}#${incarnation}`, startIndex + 1);
  }
}
