import { RaftError } from '../errors.js';
import type { InitialState, LogStorage, StorageWrite } from '../ports.js';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  type Entry,
  type HardState,
  type Index,
  type Snapshot,
  type Term,
} from '../types.js';

/**
 * `MemoryLogStorage` is the reference, in-memory {@link LogStorage}: the model the conformance
 * suite and the model-based tests of real storages are checked against, and the storage of the
 * simulator and driver tests.
 *
 * It keeps nothing across processes, so `sync` is accepted and ignored. Its state survives
 * `close()` (close is a no-op), so a test can "restart" a node on the same object.
 *
 * Writes are copied in (a caller may reuse its buffers after `save` resolves); reads return the
 * stored objects, which callers must treat as read-only.
 *
 * Semantics shared with every conforming storage (see the conformance suite):
 * - installing a snapshot at index `s` discards the log up to `s`; entries after `s` are kept
 *   only if the stored entry at `s` has the snapshot's term (thesis Figure 5.3, InstallSnapshot
 *   step 6–7), otherwise the whole log is discarded;
 * - a snapshot older than the current one is rejected (`RaftError('InvalidArgument')`);
 * - entries of a write that the snapshot already covers (`index < firstIndex`) are skipped;
 * - a write that would leave a hole, or whose entries are not consecutive, is rejected before
 *   anything changes.
 */
export class MemoryLogStorage implements LogStorage {
  #hardState: HardState = EMPTY_HARD_STATE;
  #confState: ConfState = EMPTY_CONF_STATE;
  #snapshot: Snapshot | null = null;
  /** Index of `#entries[0]`. Invariant: `#entries[i].index === #firstIndex + i`. */
  #firstIndex: Index = 1;
  #entries: Entry[] = [];

  /** @internal The durable (last index, last term), synchronously (for the simulator's checks). */
  _last(): { index: Index; term: Term } {
    const n = this.#entries.length;
    if (n > 0) return { index: this.#lastIndex(), term: (this.#entries[n - 1] as Entry).term };
    return {
      index: this.#lastIndex(),
      term: this.#snapshot === null ? 0 : this.#snapshot.meta.term,
    };
  }

  /**
   * The state to resume from.
   *
   * Correctness:
   * - reflects every `save` that resolved;
   * - `firstIndex = snapshot.index + 1` (or 1), `lastIndex ≥ firstIndex - 1`.
   */
  async initialState(): Promise<InitialState> {
    return {
      hardState: this.#hardState,
      confState: this.#confState,
      snapshot: this.#snapshot === null ? null : this.#snapshot.meta,
      firstIndex: this.#firstIndex,
      lastIndex: this.#lastIndex(),
    };
  }

  /**
   * Entries in `[lo, hi)`, cut before the total `data` size exceeds `maxBytes`.
   *
   * Correctness:
   * - `RaftError('Compacted')` if `lo < firstIndex`; `RaftError('Unavailable')` if
   *   `hi > lastIndex + 1`; `RaftError('InvalidArgument')` if `lo > hi`;
   * - at least one entry when `lo < hi`; no holes: `result[i].index === lo + i`.
   */
  async entries(lo: Index, hi: Index, maxBytes?: number): Promise<Entry[]> {
    if (lo < this.#firstIndex) {
      throw new RaftError(
        'Compacted',
        `entries(${lo}, ${hi}): compacted below ${this.#firstIndex}`,
      );
    }
    if (hi > this.#lastIndex() + 1) {
      throw new RaftError(
        'Unavailable',
        `entries(${lo}, ${hi}): last index is ${this.#lastIndex()}`,
      );
    }
    if (lo > hi) throw new RaftError('InvalidArgument', `entries(${lo}, ${hi}): lo > hi`);
    const from = lo - this.#firstIndex;
    let to = hi - this.#firstIndex;
    if (maxBytes !== undefined && to - from > 1) {
      let size = this.#entries[from]!.data.byteLength;
      for (let i = from + 1; i < to; i++) {
        size += this.#entries[i]!.data.byteLength;
        if (size > maxBytes) {
          to = i;
          break;
        }
      }
    }
    return this.#entries.slice(from, to);
  }

  /**
   * The term of the entry at `index`, or the snapshot's term at the snapshot index (0 at index 0).
   *
   * Correctness: `RaftError('Compacted')` below the snapshot index; `RaftError('Unavailable')`
   * above the last index.
   */
  async term(index: Index): Promise<Term> {
    const snapIndex = this.#firstIndex - 1;
    if (index < snapIndex)
      throw new RaftError('Compacted', `term(${index}): compacted below ${snapIndex}`);
    if (index === snapIndex) return this.#snapshot === null ? 0 : this.#snapshot.meta.term;
    const e = this.#entries[index - this.#firstIndex];
    if (e === undefined) {
      throw new RaftError('Unavailable', `term(${index}): last index is ${this.#lastIndex()}`);
    }
    return e.term;
  }

  /**
   * Apply one write: snapshot → entries → hard state / conf state.
   *
   * Correctness:
   * - atomic: an invalid write (older snapshot, hole, non-consecutive entries) throws
   *   `RaftError('InvalidArgument')` and changes nothing;
   * - entries at index ≥ `write.entries[0].index` stored before are replaced;
   * - a snapshot sets the conf state to `snapshot.meta.confState` unless `write.confState` is given;
   * - no holes: the log stays contiguous from `firstIndex` to `lastIndex`.
   */
  async save(write: StorageWrite, _sync: boolean): Promise<void> {
    const plan = planWrite(write, this.#firstIndex, this.#lastIndex(), (i) => this.#termAt(i));
    if (write.snapshot !== undefined) {
      const s = write.snapshot;
      this.#entries = plan.keepSuffix
        ? this.#entries.slice(s.meta.index + 1 - this.#firstIndex)
        : [];
      this.#firstIndex = s.meta.index + 1;
      this.#snapshot = {
        meta: {
          index: s.meta.index,
          term: s.meta.term,
          confState: copyConfState(s.meta.confState),
        },
        data: copyBytes(s.data),
      };
      this.#confState = this.#snapshot.meta.confState;
    }
    if (plan.appendFrom < write.entries.length) {
      const keep = write.entries[plan.appendFrom]!.index - this.#firstIndex;
      // NB: shrink only when truncating; assigning `length` on a large array is not free in V8.
      if (this.#entries.length > keep) this.#entries.length = keep;
      // One buffer for the whole write, one view per entry: a separate small Uint8Array per entry
      // costs an off-heap backing store each, which dominated this storage's profile (BENCHMARKS.md).
      let total = 0;
      for (let i = plan.appendFrom; i < write.entries.length; i++)
        total += write.entries[i]!.data.byteLength;
      const buf = new ArrayBuffer(total);
      const all = new Uint8Array(buf);
      let off = 0;
      for (let i = plan.appendFrom; i < write.entries.length; i++) {
        const e = write.entries[i]!;
        const n = e.data.byteLength;
        all.set(e.data, off);
        this.#entries.push({
          index: e.index,
          term: e.term,
          type: e.type,
          data: new Uint8Array(buf, off, n),
        });
        off += n;
      }
    }
    if (write.hardState !== undefined) {
      const h = write.hardState;
      this.#hardState = { term: h.term, vote: h.vote, commit: h.commit };
    }
    if (write.confState !== undefined) this.#confState = copyConfState(write.confState);
  }

  /**
   * Discard entries with index ≤ `index`. Entries behind the snapshot are dropped when the
   * snapshot is saved, so this only checks its argument.
   *
   * Correctness: `RaftError('InvalidArgument')` if `index` is above the snapshot index (entries
   * not covered by a snapshot are never discarded); `term(snapshotIndex)` keeps answering.
   */
  async compact(index: Index): Promise<void> {
    const snapIndex = this.#firstIndex - 1;
    if (index > snapIndex) {
      throw new RaftError(
        'InvalidArgument',
        `compact(${index}): beyond the snapshot index ${snapIndex}`,
      );
    }
  }

  /**
   * The latest snapshot saved, or null.
   *
   * Correctness: returns the data and metadata of the last snapshot installed by `save`.
   */
  async snapshot(): Promise<Snapshot | null> {
    return this.#snapshot;
  }

  /**
   * A no-op: the state stays readable and writable, so a test may reuse the object after a
   * simulated restart.
   *
   * Correctness: nothing to release.
   */
  async close(): Promise<void> {}

  #lastIndex(): Index {
    return this.#firstIndex + this.#entries.length - 1;
  }

  #termAt(index: Index): Term | undefined {
    if (index === this.#firstIndex - 1)
      return this.#snapshot === null ? 0 : this.#snapshot.meta.term;
    return this.#entries[index - this.#firstIndex]?.term;
  }
}

/** How {@link planWrite} says a valid write applies. */
interface WritePlan {
  /** Keep the entries after the snapshot index (the stored entry there has the snapshot's term). */
  readonly keepSuffix: boolean;
  /** Position in `write.entries` of the first entry to store (earlier ones are covered). */
  readonly appendFrom: number;
}

/**
 * `planWrite` validates `write` against a log `[first, last]` without changing anything, and
 * throws `RaftError('InvalidArgument')` for a write that would break the log's invariants.
 */
function planWrite(
  write: StorageWrite,
  first: Index,
  last: Index,
  termAt: (index: Index) => Term | undefined,
): WritePlan {
  let keepSuffix = true;
  if (write.snapshot !== undefined) {
    const { index, term } = write.snapshot.meta;
    if (index < first - 1) {
      throw new RaftError(
        'InvalidArgument',
        `snapshot at ${index} is older than the current one at ${first - 1}`,
      );
    }
    keepSuffix = termAt(index) === term;
    first = index + 1;
    if (!keepSuffix || last < index) last = index;
  }
  const ents = write.entries;
  let appendFrom = 0;
  if (ents.length > 0) {
    const start = ents[0]!.index;
    for (let i = 1; i < ents.length; i++) {
      if (ents[i]!.index !== start + i) {
        throw new RaftError('InvalidArgument', `entries are not consecutive at position ${i}`);
      }
    }
    appendFrom = Math.min(ents.length, Math.max(0, first - start));
    if (appendFrom < ents.length && start + appendFrom > last + 1) {
      throw new RaftError(
        'InvalidArgument',
        `entries start at ${start}, leaving a hole after ${last}`,
      );
    }
  }
  return { keepSuffix, appendFrom };
}

/** A copy of `b` as a plain `Uint8Array` (NB: `Buffer#slice` would return a view, not a copy). */
function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function copyConfState(c: ConfState): ConfState {
  return {
    voters: [...c.voters],
    learners: [...c.learners],
    votersOutgoing: [...c.votersOutgoing],
    learnersNext: [...c.learnersNext],
    autoLeave: c.autoLeave,
  };
}
