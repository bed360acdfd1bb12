import type { Entry, Index } from 'raft-core';

// NB: `data.length`, not `data.byteLength` (the same for a Uint8Array): on Node 20 the optimizing
// compiler inlines a typed array's `length` but calls out for `byteLength`, several times slower
// in these per-entry loops.

/**
 * `TailCache` keeps the newest log entries in memory so reads of recently written entries do not
 * touch SQLite.
 *
 * Invariant: it is always a suffix of the stored log — `entries[i].index === first + i` and
 * `first + entries.length === lastIndex + 1` of the storage (empty means `first === lastIndex + 1`).
 * It holds at most `maxEntries` entries and `maxBytes` bytes of entry data (0 disables it).
 */
export class TailCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #entries: Entry[] = [];
  #first: Index;
  #bytes = 0;

  constructor(maxEntries: number, maxBytes: number, next: Index) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    this.#first = next;
  }

  /** Index of the oldest cached entry (the next index to be written when empty). */
  get first(): Index {
    return this.#first;
  }

  /** The cached entry at `index`, if any. */
  get(index: Index): Entry | undefined {
    return this.#entries[index - this.#first];
  }

  /**
   * Store `entries` (consecutive, data already copied), replacing every cached entry at index
   * ≥ `entries[0].index`. Precondition: `entries[0].index ≤ first + length` (no hole).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const start = entries[0]!.index;
    if (start <= this.#first) this.#clear(start);
    else this.#truncate(start - this.#first);
    for (const e of entries) {
      this.#entries.push(e);
      this.#bytes += e.data.length;
    }
    this.#trim();
  }

  /** Drop the entries with index ≤ `index` (they are behind a snapshot). */
  dropThrough(index: Index): void {
    const n = Math.min(this.#entries.length, index + 1 - this.#first);
    if (n <= 0) return;
    for (let i = 0; i < n; i++) this.#bytes -= this.#entries[i]!.data.length;
    this.#entries.splice(0, n);
    this.#first += n;
  }

  /** Forget everything; the log now ends at `next - 1`. */
  reset(next: Index): void {
    this.#clear(next);
  }

  /**
   * Append to `out` the cached entries from `lo` (≥ `first`) up to `hi`, while the running total
   * `bytes` stays ≤ `maxBytes` (at least one entry overall). Returns the new total, or -1 when
   * the byte limit stopped the read.
   */
  read(lo: Index, hi: Index, maxBytes: number, out: Entry[], bytes: number): number {
    for (let i = lo - this.#first; i < hi - this.#first; i++) {
      const e = this.#entries[i]!;
      const size = bytes + e.data.length;
      if (out.length > 0 && size > maxBytes) return -1;
      out.push(e);
      bytes = size;
    }
    return bytes;
  }

  #clear(next: Index): void {
    this.#entries = [];
    this.#bytes = 0;
    this.#first = next;
  }

  #truncate(keep: number): void {
    for (let i = keep; i < this.#entries.length; i++) this.#bytes -= this.#entries[i]!.data.length;
    this.#entries.length = keep;
  }

  #trim(): void {
    let n = 0;
    let bytes = this.#bytes;
    const len = this.#entries.length;
    while (n < len && (len - n > this.#maxEntries || bytes > this.#maxBytes)) {
      bytes -= this.#entries[n]!.data.length;
      n++;
    }
    if (n === 0) return;
    // NB: splice is O(length); the cache is small, and trimming happens at most once per save.
    this.#entries.splice(0, n);
    this.#first += n;
    this.#bytes = bytes;
  }
}
