import { RaftError } from '../errors.js';
import type { InitialState, LogStorage, StorageWrite } from '../ports.js';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  type Entry,
  type EntryType,
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
 * Writes are copied in (a caller may reuse its buffers after `save` resolves), and reads return
 * copies: the storage reuses its memory once the entries stored there are discarded.
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
  /** Index of the first stored entry (the snapshot index + 1). */
  #firstIndex: Index = 1;
  /** Stored entries: `#count` of them, from `#firstIndex` on, in runs (one per write). */
  #count = 0;
  /** Consecutive runs: `#runs[j + 1].first === #runs[j].first + #runs[j].count`. */
  #runs: Run[] = [];
  /** The chunk new runs are carved from, free from `#chunkUsed` on. */
  #chunk: Chunk | null = null;
  #chunkUsed = 0;
  /** Chunks no stored run refers to any more, kept for reuse (at most `SPARE_CHUNKS`). */
  #spare: Chunk[] = [];

  /** @internal The durable (last index, last term), synchronously (for the simulator's checks). */
  _last(): { index: Index; term: Term } {
    if (this.#count > 0) {
      const last = this.#lastIndex();
      return { index: last, term: this.#termAt(last) as Term };
    }
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
    const out: Entry[] = [];
    if (lo === hi) return out;
    let size = 0;
    let j = this.#runAt(lo);
    scan: for (let index = lo; index < hi; j++) {
      const r = this.#runs[j] as Run;
      const end = Math.min(hi, r.first + r.count);
      for (let k = r.start + (index - r.first); index < end; index++, k++) {
        const data = r.buf.subarray(r.offs[k], r.offs[k + 1]);
        size += data.length;
        if (maxBytes !== undefined && size > maxBytes && out.length > 0) break scan;
        out.push({ index, term: r.terms[k] as Term, type: r.types[k] as EntryType, data });
      }
    }
    // Copies (into one new buffer), not views: a chunk is reused once its runs are discarded.
    let total = 0;
    for (const e of out) total += e.data.length;
    const copy = new Uint8Array(total);
    let off = 0;
    for (let i = 0; i < out.length; i++) {
      const e = out[i] as Entry;
      copy.set(e.data, off);
      out[i] = { ...e, data: copy.subarray(off, off + e.data.length) };
      off += e.data.length;
    }
    return out;
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
    const t = this.#termAt(index);
    if (t === undefined) {
      throw new RaftError('Unavailable', `term(${index}): last index is ${this.#lastIndex()}`);
    }
    return t;
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
      if (plan.keepSuffix) this.#dropThrough(s.meta.index);
      else this.#dropAll();
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
      const ents = write.entries;
      this.#truncateFrom(ents[plan.appendFrom]!.index);
      // One run per write, stored column-wise: the payloads copied into one buffer, terms and
      // types in typed arrays. Entry objects are built only when read (rarely: the core keeps
      // its log in memory), so the storage adds no per-entry objects for the GC to trace, and
      // no per-entry off-heap buffers (BENCHMARKS.md).
      // NB: the four columns are views of one region of a chunk (terms first, for their 8-byte
      // alignment), and chunks are reused once the entries stored there are discarded: a new
      // (zero-filled) backing store per write cost more than the copy itself.
      const n = ents.length - plan.appendFrom;
      let total = 0;
      for (let k = 0; k < n; k++) total += ents[plan.appendFrom + k]!.data.length; // NB: entrySize
      const at = this.#reserve(13 * n + 4 + total);
      const chunk = this.#chunk as Chunk;
      const mem = chunk.mem;
      const terms = new Float64Array(mem, at, n);
      const offs = new Uint32Array(mem, at + 8 * n, n + 1);
      const types = new Uint8Array(mem, at + 12 * n + 4, n);
      const buf = new Uint8Array(mem, at + 13 * n + 4, total);
      let off = 0;
      for (let k = 0; k < n; k++) {
        const e = ents[plan.appendFrom + k]!;
        terms[k] = e.term;
        types[k] = e.type;
        offs[k] = off;
        buf.set(e.data, off);
        off += e.data.length;
      }
      offs[n] = off;
      this.#runs.push({
        first: ents[plan.appendFrom]!.index,
        count: n,
        start: 0,
        terms,
        types,
        offs,
        buf,
        chunk,
      });
      chunk.runs++;
      this.#count += n;
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

  /** Forgets every stored entry. */
  #dropAll(): void {
    for (const r of this.#runs) this.#release(r);
    this.#runs = [];
    this.#count = 0;
  }

  /** A run is no longer stored: its chunk may be reused once no other run is stored there. */
  #release(r: Run): void {
    const c = r.chunk;
    c.runs--;
    if (c.runs === 0 && c !== this.#chunk && this.#spare.length < SPARE_CHUNKS) {
      this.#spare.push(c);
    }
  }

  /**
   * Reserves `bytes` for a new run and returns their offset (8-byte aligned) in `#chunk`,
   * moving to a spare or new chunk when the current one is full. New chunks double from
   * `CHUNK_MIN` to `CHUNK_MAX` bytes (or the size of the write), so a small log stays small.
   */
  #reserve(bytes: number): number {
    let c = this.#chunk;
    // Nothing is stored in the current chunk any more: start it over.
    let at = c !== null && c.runs === 0 ? 0 : this.#chunkUsed;
    if (c === null || at + bytes > c.mem.byteLength) {
      const old = c;
      const i = this.#spare.findIndex((s) => s.mem.byteLength >= bytes);
      if (i >= 0) c = this.#spare.splice(i, 1)[0] as Chunk;
      else {
        const size = Math.min(CHUNK_MAX, 2 * (old?.mem.byteLength ?? CHUNK_MIN / 2));
        c = { mem: new ArrayBuffer(Math.max(size, bytes)), runs: 0 };
      }
      this.#chunk = c;
      if (old !== null && old.runs === 0 && this.#spare.length < SPARE_CHUNKS) {
        this.#spare.push(old);
      }
      at = 0;
    }
    this.#chunkUsed = at + Math.ceil(bytes / 8) * 8;
    return at;
  }

  #lastIndex(): Index {
    return this.#firstIndex + this.#count - 1;
  }

  #termAt(index: Index): Term | undefined {
    if (index === this.#firstIndex - 1)
      return this.#snapshot === null ? 0 : this.#snapshot.meta.term;
    if (index < this.#firstIndex || index > this.#lastIndex()) return undefined;
    const r = this.#runs[this.#runAt(index)] as Run;
    return r.terms[r.start + index - r.first];
  }

  /** Position in `#runs` of the run holding `index` (which must be stored). */
  #runAt(index: Index): number {
    const runs = this.#runs;
    let lo = 0;
    let hi = runs.length - 1;
    if ((runs[hi] as Run).first <= index) return hi; // the common case: the newest write
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((runs[mid] as Run).first <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Forgets the stored entries at `index` and after. */
  #truncateFrom(index: Index): void {
    if (index > this.#lastIndex()) return;
    if (index <= this.#firstIndex) {
      this.#dropAll();
      return;
    }
    const j = this.#runAt(index);
    const r = this.#runs[j] as Run;
    const keep = index === r.first ? j : j + 1;
    for (let i = keep; i < this.#runs.length; i++) this.#release(this.#runs[i] as Run);
    this.#runs.length = keep;
    if (index > r.first) r.count = index - r.first;
    this.#count = index - this.#firstIndex;
  }

  /** Forgets the stored entries up to `index` (a snapshot covers them). */
  #dropThrough(index: Index): void {
    if (index < this.#firstIndex) return;
    if (index >= this.#lastIndex()) {
      this.#dropAll();
      return;
    }
    const j = this.#runAt(index + 1);
    for (let i = 0; i < j; i++) this.#release(this.#runs[i] as Run);
    const r = this.#runs[j] as Run;
    const cut = index + 1 - r.first;
    r.first += cut;
    r.start += cut;
    r.count -= cut;
    this.#runs = this.#runs.slice(j);
    this.#count = this.#lastIndex() - index;
  }
}

/** Bounds of a new chunk's size, in bytes (see `#reserve`). */
const CHUNK_MIN = 16 * 1024;
const CHUNK_MAX = 256 * 1024;
/** Spare chunks kept for reuse: 16 MiB at most, and never more than the log once held. */
const SPARE_CHUNKS = 64;

/** Memory that runs are carved from, with the number of stored runs in it. */
interface Chunk {
  readonly mem: ArrayBuffer;
  runs: number;
}

/** The entries of one write (see {@link MemoryLogStorage.save}). */
interface Run {
  /** Index of the run's first stored entry. */
  first: Index;
  /** How many of its entries are stored (a truncation shortens a run). */
  count: number;
  /** Position of entry `first` in the arrays (a snapshot cuts a run's front). */
  start: number;
  readonly terms: Float64Array;
  readonly types: Uint8Array;
  /** Entry at position k: `buf[offs[k], offs[k + 1])`. */
  readonly offs: Uint32Array;
  readonly buf: Uint8Array;
  /** The chunk the arrays above are views of. */
  readonly chunk: Chunk;
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
