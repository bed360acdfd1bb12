import type { Index, NodeId } from '../types.js';

/** The outcome of a vote (or of any quorum question). */
export type VoteResult = 'pending' | 'lost' | 'won';

/**
 * `MajorityConfig` is a set of voters whose decisions need a strict majority (§5.2, §5.3).
 * An empty config is a special case: it agrees to everything (so a joint config whose
 * outgoing half is empty behaves like its incoming half alone).
 */
export class MajorityConfig {
  readonly ids: ReadonlySet<NodeId>;

  constructor(ids: Iterable<NodeId> = []) {
    this.ids = new Set(ids);
  }

  get size(): number {
    return this.ids.size;
  }

  /**
   * The largest index acknowledged by a majority: the ⌊n/2⌋+1-th largest `matchOf(id)`.
   * Unknown voters count as 0. Returns `Infinity` for an empty config.
   */
  committedIndex(matchOf: (id: NodeId) => Index | undefined): Index {
    const n = this.ids.size;
    if (n === 0) return Number.POSITIVE_INFINITY;
    // NB: small n (≤ 7 in practice): an insertion sort into a preallocated array beats sort().
    const arr: number[] = new Array(n);
    let i = 0;
    for (const id of this.ids) {
      const v = matchOf(id) ?? 0;
      let j = i;
      while (j > 0 && (arr[j - 1] as number) < v) {
        arr[j] = arr[j - 1] as number;
        j--;
      }
      arr[j] = v;
      i++;
    }
    // arr is sorted descending; the majority-th largest is at n/2 (0-based: ⌊n/2⌋).
    return arr[Math.floor(n / 2)] as number;
  }

  /** Tallies `votes` (true = granted). Missing voters are undecided. */
  voteResult(votes: (id: NodeId) => boolean | undefined): VoteResult {
    const n = this.ids.size;
    if (n === 0) return 'won';
    let yes = 0;
    let missing = 0;
    for (const id of this.ids) {
      const v = votes(id);
      if (v === undefined) missing++;
      else if (v) yes++;
    }
    const q = Math.floor(n / 2) + 1;
    if (yes >= q) return 'won';
    if (yes + missing >= q) return 'pending';
    return 'lost';
  }
}
