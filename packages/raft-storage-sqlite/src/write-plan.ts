import { type Index, RaftError, type StorageWrite, type Term } from 'raft-core';

/** How a valid {@link StorageWrite} applies to the log; computed before anything is written. */
export interface WritePlan {
  /** Keep the entries after the snapshot index (the stored entry there has the snapshot's term). */
  readonly keepSuffix: boolean;
  /** Position in `write.entries` of the first entry to store (earlier ones are behind the snapshot). */
  readonly appendFrom: number;
  /** First index after the write. */
  readonly firstIndex: Index;
  /** Last index once the snapshot (if any) is installed, before the entries are appended. */
  readonly lastIndexAfterSnapshot: Index;
  /** Last index after the write. */
  readonly lastIndex: Index;
}

/**
 * `planWrite` validates `write` against the log `[first, last]` and says how it applies,
 * throwing `RaftError('InvalidArgument')` for a write that would break the log's invariants
 * (an older snapshot, non-consecutive entries, a hole). Same rules as raft-core's
 * `MemoryLogStorage`:
 * - a snapshot at `s` keeps the entries after `s` only if the entry at `s` has the snapshot's
 *   term (thesis Figure 5.3, InstallSnapshot steps 6–7); otherwise the whole log goes;
 * - entries below the (new) first index are already covered by the snapshot and are skipped.
 *
 * `termAt(i)` answers for `first - 1 ≤ i ≤ last` (the snapshot's term at `first - 1`).
 */
export function planWrite(
  write: StorageWrite,
  first: Index,
  last: Index,
  termAt: (index: Index) => Term,
): WritePlan {
  let keepSuffix = true;
  if (write.snapshot !== undefined) {
    const { index, term } = write.snapshot.meta;
    if (!Number.isSafeInteger(index) || index < first - 1) {
      throw new RaftError(
        'InvalidArgument',
        `snapshot at ${index} is older than the current one at ${first - 1}`,
      );
    }
    keepSuffix = index <= last && termAt(index) === term;
    first = index + 1;
    if (!keepSuffix) last = index;
  }
  const lastIndexAfterSnapshot = last;
  const ents = write.entries;
  let appendFrom = 0;
  if (ents.length > 0) {
    const start = ents[0]!.index;
    if (!Number.isSafeInteger(start))
      throw new RaftError('InvalidArgument', `bad entry index ${start}`);
    for (let i = 1; i < ents.length; i++) {
      if (ents[i]!.index !== start + i) {
        throw new RaftError('InvalidArgument', `entries are not consecutive at position ${i}`);
      }
    }
    appendFrom = Math.min(ents.length, Math.max(0, first - start));
    if (appendFrom < ents.length) {
      if (start + appendFrom > last + 1) {
        throw new RaftError(
          'InvalidArgument',
          `entries start at ${start}, leaving a hole after ${last}`,
        );
      }
      last = start + ents.length - 1;
    }
  }
  return { keepSuffix, appendFrom, firstIndex: first, lastIndexAfterSnapshot, lastIndex: last };
}
