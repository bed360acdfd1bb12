import { panic } from './errors.js';
import type { Entry, Index, Snapshot, Term } from './types.js';

/**
 * Size of an entry for flow control and message limits.
 * NB: `length`, not `byteLength` (the same for a `Uint8Array`): on Node 20 the optimizing
 * compiler inlines the `length` getter of a typed array but calls out for `byteLength`,
 * several times slower in the loops over entries that size every MsgApp and Ready.
 */
export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

/**
 * `RaftLog` is a node's log since its last snapshot, held in memory, plus the bookkeeping of
 * what is durable (`stable`), committed and applied.
 *
 * Index maths: `entries[i]` has log index `snapIndex + 1 + i`.
 * Invariants: `applied ≤ committed ≤ lastIndex()`; `snapIndex ≤ stable ≤ lastIndex()`.
 * NB: `applied < snapIndex` while a snapshot received from the leader is not yet installed by
 * the driver; committed entries are then handed out from `firstIndex()` on.
 * Entries with index > `stable` are *unstable*: handed out in the next `Ready` to be persisted.
 */
export class RaftLog {
  private entries: Entry[] = [];
  private snapIndex: Index;
  private snapTerm: Term;
  /** Last index known durable in storage. */
  stable: Index;
  committed: Index;
  applied: Index;
  /** A snapshot received from the leader, not yet persisted/applied. */
  pendingSnapshot: Snapshot | null = null;
  /**
   * Lowest index written or overwritten since the last call to {@link takeDirtyFrom}
   * (for the simulator's incremental invariant checks). `Infinity` when clean.
   */
  private dirtyFrom: Index = Number.POSITIVE_INFINITY;

  constructor(snapIndex: Index, snapTerm: Term, entries: readonly Entry[], committed: Index) {
    this.snapIndex = snapIndex;
    this.snapTerm = snapTerm;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as Entry;
      if (e.index !== snapIndex + 1 + i) panic(`log hole at ${snapIndex + 1 + i} (got ${e.index})`);
      this.entries.push(e);
    }
    this.stable = this.lastIndex();
    if (committed > this.lastIndex())
      panic(`committed ${committed} beyond last ${this.lastIndex()}`);
    this.committed = Math.max(committed, snapIndex);
    this.applied = snapIndex;
    this.dirtyFrom = snapIndex + 1;
  }

  firstIndex(): Index {
    return this.snapIndex + 1;
  }

  lastIndex(): Index {
    return this.snapIndex + this.entries.length;
  }

  snapshotIndex(): Index {
    return this.snapIndex;
  }

  snapshotTerm(): Term {
    return this.snapTerm;
  }

  lastTerm(): Term {
    const n = this.entries.length;
    return n === 0 ? this.snapTerm : (this.entries[n - 1] as Entry).term;
  }

  /** The term at `i`, or undefined if `i` is compacted or beyond the log. */
  term(i: Index): Term | undefined {
    if (i === this.snapIndex) return this.snapTerm;
    if (i < this.snapIndex || i > this.lastIndex()) return undefined;
    return (this.entries[i - this.snapIndex - 1] as Entry).term;
  }

  entry(i: Index): Entry | undefined {
    if (i <= this.snapIndex) return undefined;
    return this.entries[i - this.snapIndex - 1];
  }

  matchTerm(i: Index, t: Term): boolean {
    return this.term(i) === t;
  }

  /** §5.4.1: is a log ending at (`lastIndex`, `lastTerm`) at least as up-to-date as ours? */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const ours = this.lastTerm();
    return lastTerm > ours || (lastTerm === ours && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in `[lo, hi)` whose total size stays within `maxBytes` (at least one entry).
   * Returns a fresh array. Caller guarantees `firstIndex() ≤ lo`.
   */
  slice(lo: Index, hi: Index, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo < this.firstIndex()) panic(`slice(${lo}) below first index ${this.firstIndex()}`);
    const last = this.lastIndex();
    if (hi > last + 1) hi = last + 1;
    if (lo >= hi) return [];
    const off = this.snapIndex + 1;
    if (maxBytes !== Number.POSITIVE_INFINITY) {
      // Find the end first, then copy once (pushing would grow the array step by step).
      let size = entrySize(this.entries[lo - off] as Entry);
      let end = lo + 1;
      for (; end < hi; end++) {
        size += entrySize(this.entries[end - off] as Entry);
        if (size > maxBytes) break;
      }
      hi = end;
    }
    return this.entries.slice(lo - off, hi - off);
  }

  /** Entries not yet handed to storage (index > `stable`). */
  unstableEntries(): Entry[] {
    return this.slice(this.stable + 1, this.lastIndex() + 1);
  }

  hasUnstable(): boolean {
    return this.stable < this.lastIndex();
  }

  /**
   * Appends `ents`, replacing any existing entries from `ents[0].index` on.
   * Returns the new last index.
   */
  append(ents: readonly Entry[]): Index {
    if (ents.length === 0) return this.lastIndex();
    const first = (ents[0] as Entry).index;
    if (first - 1 < this.committed) {
      panic(`append at ${first} would overwrite committed entries (committed=${this.committed})`);
    }
    if (first > this.lastIndex() + 1)
      panic(`append at ${first} leaves a hole after ${this.lastIndex()}`);
    if (first <= this.snapIndex) panic(`append at ${first} below snapshot ${this.snapIndex}`);
    const keep = first - this.snapIndex - 1;
    // NB: only shrink when truncating; assigning `length` on a large array is not free in V8.
    if (this.entries.length > keep) this.entries.length = keep;
    for (const e of ents) this.entries.push(e);
    if (this.stable > first - 1) this.stable = first - 1;
    if (first < this.dirtyFrom) this.dirtyFrom = first;
    return this.lastIndex();
  }

  /**
   * Appends `e` right after the last entry (a leader's own new entry): `append([e])` without the
   * array. Nothing is replaced, so `stable` stays; `e.index` must be `lastIndex() + 1`.
   */
  appendLast(e: Entry): void {
    if (e.index !== this.lastIndex() + 1)
      panic(`appendLast at ${e.index}: the last index is ${this.lastIndex()}`);
    this.entries.push(e);
    if (e.index < this.dirtyFrom) this.dirtyFrom = e.index;
  }

  /**
   * The follower side of AppendEntries (§5.3): if the entry at `index` has term `logTerm`,
   * append `ents` (skipping those already present, truncating at the first conflict), advance
   * the commit index to min(`commit`, last new entry) and return the last new index.
   * Returns null on a mismatch.
   */
  maybeAppend(index: Index, logTerm: Term, commit: Index, ents: readonly Entry[]): Index | null {
    if (!this.matchTerm(index, logTerm)) return null;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed)
        panic(`entry ${ci} conflicts with committed entry (committed=${this.committed})`);
      // Usually every entry is new (ci === index + 1): append them without copying the array.
      this.append(ci === index + 1 ? ents : ents.slice(ci - index - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /**
   * The index of the first entry of `ents` that is missing or has a different term here,
   * or 0 if all are present. Entries at or below the snapshot count as present.
   */
  findConflict(ents: readonly Entry[]): Index {
    for (const e of ents) {
      if (e.index <= this.snapIndex) continue;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking (thesis §5.3 / etcd): the last index ≤ `index` whose term is ≤ `term`,
   * with its term. Any entry above it cannot match a leader entry of term `term` at `index`.
   */
  findConflictByTerm(index: Index, term: Term): { index: Index; term: Term } {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.snapIndex; i--) {
      const t = this.term(i) as Term;
      if (t <= term) return { index: i, term: t };
    }
    return { index: this.snapIndex, term: this.snapTerm };
  }

  commitTo(i: Index): void {
    if (i <= this.committed) return;
    if (i > this.lastIndex()) panic(`commit ${i} is out of range [last ${this.lastIndex()}]`);
    this.committed = i;
  }

  /** Committed entries not yet applied, up to `maxBytes` (at least one). Fresh array. */
  nextCommittedEntries(maxBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (lo > this.committed) return [];
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    return Math.max(this.applied + 1, this.firstIndex()) <= this.committed;
  }

  appliedTo(i: Index): void {
    if (i === 0 || i === this.applied) return;
    if (i > this.committed || i < this.applied) {
      panic(`applied(${i}) out of range [applied(${this.applied}), committed(${this.committed})]`);
    }
    this.applied = i;
  }

  /** Entries up to `i` with term `t` are durable. Ignored if the entry was overwritten since. */
  stableTo(i: Index, t: Term): void {
    if (i > this.stable && this.term(i) === t) this.stable = i;
  }

  /** Replaces the whole log with a snapshot's point (follower installing a snapshot). */
  restore(s: Snapshot): void {
    this.snapIndex = s.meta.index;
    this.snapTerm = s.meta.term;
    this.entries = [];
    this.committed = s.meta.index;
    this.stable = s.meta.index;
    // `applied` moves to the snapshot index when the driver has installed it (advance).
    this.pendingSnapshot = s;
    this.dirtyFrom = Math.min(this.dirtyFrom, s.meta.index + 1);
  }

  /** Drops entries up to `i` (≤ applied) from memory; `i` becomes the snapshot point. */
  compact(i: Index): void {
    if (i <= this.snapIndex) return;
    if (i > this.applied) panic(`compact(${i}) beyond applied ${this.applied}`);
    const t = this.term(i) as Term;
    this.entries.splice(0, i - this.snapIndex);
    this.snapIndex = i;
    this.snapTerm = t;
  }

  /** @internal Returns and clears the lowest index changed since the previous call. */
  takeDirtyFrom(): Index {
    const d = this.dirtyFrom;
    this.dirtyFrom = Number.POSITIVE_INFINITY;
    return d;
  }
}
