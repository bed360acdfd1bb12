import type { ConfState, Entry, EntryType, HardState, Index, SnapshotMeta, Term } from 'raft-core';
import { crc32, crc32Update, crc32UpdateU32, crc32UpdateU64 } from './crc32.js';

/**
 * Record encodings and checksums. Every stored record carries a CRC-32 over its identity and
 * content, so a torn or bit-flipped record (or one moved to another key) is detected on read.
 */

/** `entryChecksum` is the CRC-32 of an entry: index (u64 LE), term (u64 LE), type (u32 LE), data. */
export function entryChecksum(index: Index, term: Term, type: number, data: Uint8Array): number {
  return crc32Update(crc32UpdateU32(crc32UpdateU64(crc32UpdateU64(0, index), term), type), data);
}

/**
 * Size of the header of a stored entry record. A record is, little-endian:
 * `u32 payload length | u32 crc | u32 term low | u32 term high | u32 type | payload`.
 * The index is not stored: a record's index follows from its place in a run (see schema.ts), and
 * the CRC ({@link entryChecksum}) covers it, so a record read at the wrong index fails
 * verification.
 *
 * NB: self-describing records let a reader fetch many runs as a single concatenated BLOB
 * (`group_concat`) and parse it in JavaScript, with no per-row conversion in SQLite or per-row
 * object in better-sqlite3.
 */
export const ENTRY_HEADER_BYTES = 20;

/** The records of one write, in one buffer. */
export interface EncodedEntries {
  /** The records, back to back. */
  readonly bytes: Uint8Array;
  /** Where each record starts in `bytes`, and `bytes.byteLength` last (entries + 1 numbers). */
  readonly offsets: readonly number[];
  /** The same entries with their data copied (views into `bytes`), for the tail cache. */
  readonly entries: Entry[];
}

/** `encodeEntries` copies `entries[from…]` into records (one allocation for the whole batch). */
export function encodeEntries(entries: readonly Entry[], from: number): EncodedEntries {
  let total = 0;
  for (let i = from; i < entries.length; i++) total += ENTRY_HEADER_BYTES + entries[i]!.data.length;
  const buf = new Uint8Array(total);
  const view = new DataView(buf.buffer);
  const offsets: number[] = [];
  const copies: Entry[] = [];
  let off = 0;
  for (let i = from; i < entries.length; i++) {
    const e = entries[i]!;
    const len = e.data.length;
    const data = buf.subarray(off + ENTRY_HEADER_BYTES, off + ENTRY_HEADER_BYTES + len);
    data.set(e.data);
    view.setUint32(off, len, true);
    view.setUint32(off + 4, entryChecksum(e.index, e.term, e.type, data), true);
    view.setUint32(off + 8, e.term >>> 0, true);
    view.setUint32(off + 12, Math.floor(e.term / 0x1_0000_0000) >>> 0, true);
    view.setUint32(off + 16, e.type, true);
    offsets.push(off);
    copies.push({ index: e.index, term: e.term, type: e.type, data });
    off += ENTRY_HEADER_BYTES + len;
  }
  offsets.push(off);
  return { bytes: buf, offsets, entries: copies };
}

/**
 * `decodeEntries` walks `count` consecutive records, the first at index `first`, in `buf` (one
 * run or several back to back). Those with index in `[lo, hi)` are verified and pushed onto
 * `out` while the running byte total stays ≤ `max` (at least one entry overall); the others are
 * only stepped over. Returns the new total, -1 when the limit stopped it, or a string describing
 * the first damaged record.
 */
export function decodeEntries(
  buf: Uint8Array,
  first: Index,
  count: number,
  max: number,
  out: Entry[],
  bytes: number,
  lo: Index = first,
  hi: Index = first + count,
): number | string {
  const end = buf.length;
  const view = new DataView(buf.buffer, buf.byteOffset, end);
  let off = 0;
  for (let i = 0; i < count; i++) {
    const index = first + i;
    if (off + ENTRY_HEADER_BYTES > end) return `log entry ${index} is truncated`;
    const len = view.getUint32(off, true);
    const start = off + ENTRY_HEADER_BYTES;
    if (start + len > end) return `log entry ${index} is truncated`;
    off = start + len;
    if (index < lo || index >= hi) continue;
    const crc = view.getUint32(start - 16, true);
    const term = view.getUint32(start - 12, true) + view.getUint32(start - 8, true) * 0x1_0000_0000;
    const type = view.getUint32(start - 4, true);
    const data = new Uint8Array(buf.buffer, buf.byteOffset + start, len);
    if (!Number.isSafeInteger(term) || entryChecksum(index, term, type, data) !== crc) {
      return `log entry ${index} fails its checksum`;
    }
    const size = bytes + len;
    if (out.length > 0 && size > max) return -1;
    out.push({ index, term, type: type as EntryType, data });
    bytes = size;
  }
  if (off !== end) return `log entries ${first}…${first + count - 1} have trailing bytes`;
  return bytes;
}

/**
 * `recordsEnd` is the byte length of the first `n` records of `buf` (a run), or a string if the
 * run is shorter than that.
 */
export function recordsEnd(buf: Uint8Array, first: Index, n: number): number | string {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  for (let i = 0; i < n; i++) {
    if (off + ENTRY_HEADER_BYTES > buf.byteLength) return `log entry ${first + i} is truncated`;
    off += ENTRY_HEADER_BYTES + view.getUint32(off, true);
    if (off > buf.byteLength) return `log entry ${first + i} is truncated`;
  }
  return off;
}

/** `chunkChecksum` is the CRC-32 of snapshot chunk number `seq` (u64 LE) followed by its bytes. */
export function chunkChecksum(seq: number, data: Uint8Array): number {
  return crc32Update(crc32UpdateU64(0, seq), data);
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** One row of the `state` table: a JSON document with a CRC-32 over its key and bytes. */
export interface StateRecord {
  readonly value: Uint8Array;
  readonly crc: number;
}

/** `encodeState` serializes `value` for the `state` row `key`. */
export function encodeState(key: string, value: unknown): StateRecord {
  const bytes = utf8.encode(JSON.stringify(value));
  return { value: bytes, crc: crc32Update(crc32(utf8.encode(key)), bytes) };
}

/**
 * `decodeState` checks the CRC of `state` row `key` and parses it; it returns `undefined` when
 * the checksum fails or the bytes are not JSON (the caller reports corruption).
 */
export function decodeState(key: string, value: Uint8Array, crc: number): unknown {
  if (crc32Update(crc32(utf8.encode(key)), value) !== crc) return undefined;
  try {
    return JSON.parse(utf8Decoder.decode(value)) as unknown;
  } catch {
    return undefined;
  }
}

/** Snapshot metadata as stored: the port's `SnapshotMeta` plus the layout of its data chunks. */
export interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  /** Total size of the data in bytes. */
  readonly size: number;
  /** CRC-32 of the whole data. */
  readonly crc: number;
  /** Number of rows in `snapshot_chunk` (`seq` firstSeq … firstSeq + chunks - 1). */
  readonly chunks: number;
  /**
   * `seq` of the first chunk (absent in records written before snapshots could be staged: 0).
   * Every snapshot gets a fresh range, so a new one can be written while the old one stays.
   */
  readonly firstSeq: number;
  /**
   * Set when the data lives in a file beside the database instead (`<db file name>-snap-<n>`,
   * in the database's directory; written by `stageSnapshot`), with `chunks` = 0.
   */
  readonly file?: string;
}

function isUint(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

/** `asHardState` returns `x` if it is a well-formed {@link HardState}, else `undefined`. */
export function asHardState(x: unknown): HardState | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const h = x as Record<string, unknown>;
  if (!isUint(h.term) || !isUint(h.commit) || !(h.vote === null || typeof h.vote === 'string'))
    return undefined;
  return { term: h.term, vote: h.vote, commit: h.commit };
}

/** `asConfState` returns `x` if it is a well-formed {@link ConfState}, else `undefined`. */
export function asConfState(x: unknown): ConfState | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const c = x as Record<string, unknown>;
  if (
    !isStringArray(c.voters) ||
    !isStringArray(c.learners) ||
    !isStringArray(c.votersOutgoing) ||
    !isStringArray(c.learnersNext) ||
    typeof c.autoLeave !== 'boolean'
  ) {
    return undefined;
  }
  return {
    voters: c.voters,
    learners: c.learners,
    votersOutgoing: c.votersOutgoing,
    learnersNext: c.learnersNext,
    autoLeave: c.autoLeave,
  };
}

/** `asStoredSnapshot` returns `x` if it is a well-formed {@link StoredSnapshot}, else `undefined`. */
export function asStoredSnapshot(x: unknown): StoredSnapshot | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const s = x as Record<string, unknown>;
  const m = s.meta as Record<string, unknown> | null | undefined;
  if (typeof m !== 'object' || m === null || !isUint(m.index) || !isUint(m.term)) return undefined;
  const confState = asConfState(m.confState);
  if (confState === undefined || !isUint(s.size) || !isUint(s.crc) || !isUint(s.chunks))
    return undefined;
  const firstSeq = s.firstSeq ?? 0;
  if (!isUint(firstSeq)) return undefined;
  const file = s.file;
  if (file !== undefined && (typeof file !== 'string' || !/^[^/\\]+-snap-\d+$/.test(file)))
    return undefined;
  return {
    meta: { index: m.index, term: m.term, confState },
    size: s.size,
    crc: s.crc,
    chunks: s.chunks,
    firstSeq,
    ...(file !== undefined && { file }),
  };
}

/** `plainConfState` copies a conf state into a plain, JSON-safe object. */
export function plainConfState(c: ConfState): ConfState {
  return {
    voters: [...c.voters],
    learners: [...c.learners],
    votersOutgoing: [...c.votersOutgoing],
    learnersNext: [...c.learnersNext],
    autoLeave: c.autoLeave,
  };
}

/** `plainHardState` copies a hard state into a plain, JSON-safe object. */
export function plainHardState(h: HardState): HardState {
  return { term: h.term, vote: h.vote, commit: h.commit };
}
