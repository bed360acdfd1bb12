import { type Entry, RaftError, type StorageWrite } from 'raft-core';
import { SqliteStorageError, type SqliteStorageErrorReason } from './errors.js';
import type { SqliteLogStorageOptions } from './sqlite-log-storage.js';

/**
 * The messages between {@link SqliteWorkerLogStorage} (main thread) and its worker (worker.ts).
 *
 * Requests carry an id; the worker answers each with exactly one {@link Reply} of that id, in
 * whatever order the calls finish (calls may overlap, as on the main thread). `blob` messages
 * have no id and no answer: they upload the bytes of a snapshot in pieces (see `upload`), so
 * that no single structured clone of a large snapshot blocks either thread.
 */
export type Request =
  | { readonly id: number; readonly op: 'open'; readonly options: SqliteLogStorageOptions }
  | { readonly id: number; readonly op: 'initialState' }
  | {
      readonly id: number;
      readonly op: 'entries';
      readonly lo: number;
      readonly hi: number;
      readonly maxBytes: number | undefined;
    }
  | { readonly id: number; readonly op: 'term'; readonly index: number }
  | { readonly id: number; readonly op: 'save'; readonly write: WireWrite; readonly sync: boolean }
  | { readonly id: number; readonly op: 'compact'; readonly index: number }
  | { readonly id: number; readonly op: 'snapshot' }
  | {
      readonly id: number;
      readonly op: 'stage';
      readonly meta: unknown;
      /** The uploaded data (see {@link BlobPiece}). */
      readonly blob: number;
    }
  | { readonly id: number; readonly op: 'close' };

/** One piece of an uploaded byte array: `bytes` goes at `offset` of blob `blob` (`size` bytes). */
export interface BlobPiece {
  readonly op: 'blob';
  readonly blob: number;
  readonly size: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
}

export type ToWorker = Request | BlobPiece;

export type Reply =
  | { readonly id: number; readonly ok: true; readonly value?: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

/**
 * A `StorageWrite` on the wire. Entries travel packed in one transferred buffer (see
 * {@link packEntries}); a snapshot's data travels as an uploaded blob, or as a reference to the
 * data staged before (`stagedBlob`), so that the worker can hand the real `save` the very object
 * its `stageSnapshot` got (staging is matched by identity).
 */
export interface WireWrite {
  readonly packed?: ArrayBuffer;
  /** Entries in `packed`. */
  readonly count?: number;
  /** Entries that `packEntries` cannot represent faithfully, cloned as they are. */
  readonly raw?: readonly unknown[];
  readonly hardState?: unknown;
  readonly confState?: unknown;
  readonly snapshotMeta?: unknown;
  readonly snapshotBlob?: number;
  readonly stagedBlob?: number;
}

/**
 * The name of the error the worker answers a `save` with when the staged snapshot it refers to
 * was replaced by a newer stage meanwhile; the main thread then sends the data itself.
 */
export const STAGED_SNAPSHOT_GONE = 'StagedSnapshotGone';

/** Fields of the per-entry header of a packed buffer: index, term, type, data length (f64 each). */
const PACKED_FIELDS = 4;

/**
 * `packEntries` copies `entries` into one buffer — a header of four f64 per entry (index, term,
 * type, data length), then every entry's data back to back — for transfer to the other thread.
 * One copy of the payload and one allocation per batch is cheaper than cloning an array of
 * objects with one small buffer each (see BENCHMARKS.md). Returns undefined if an entry is not
 * plain data (the caller then clones it as is, so the storage itself reports the error).
 */
export function packEntries(entries: readonly Entry[]): ArrayBuffer | undefined {
  const n = entries.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = entries[i] as Partial<Entry> | null | undefined;
    if (
      typeof e !== 'object' ||
      e === null ||
      !(e.data instanceof Uint8Array) ||
      typeof e.index !== 'number' ||
      typeof e.term !== 'number' ||
      typeof e.type !== 'number'
    )
      return undefined;
    total += e.data.byteLength;
  }
  const head = n * PACKED_FIELDS * 8;
  const buf = new ArrayBuffer(head + total);
  const fields = new Float64Array(buf, 0, n * PACKED_FIELDS);
  const bytes = new Uint8Array(buf, head);
  let off = 0;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    const f = i * PACKED_FIELDS;
    fields[f] = e.index;
    fields[f + 1] = e.term;
    fields[f + 2] = e.type;
    fields[f + 3] = e.data.byteLength;
    bytes.set(e.data, off);
    off += e.data.byteLength;
  }
  return buf;
}

/** `unpackEntries` reads a {@link packEntries} buffer; every `data` is a view into it. */
export function unpackEntries(buf: ArrayBuffer, count: number): Entry[] {
  const fields = new Float64Array(buf, 0, count * PACKED_FIELDS);
  const head = count * PACKED_FIELDS * 8;
  const out: Entry[] = new Array(count);
  let off = head;
  for (let i = 0; i < count; i++) {
    const f = i * PACKED_FIELDS;
    const len = fields[f + 3]!;
    out[i] = {
      index: fields[f]!,
      term: fields[f + 1]!,
      type: fields[f + 2]! as Entry['type'],
      data: new Uint8Array(buf, off, len),
    };
    off += len;
  }
  return out;
}

/** A `RaftError` (or anything else thrown) as structured-clone-safe data. */
export interface WireError {
  readonly kind: 'sqlite' | 'raft' | 'other';
  readonly code?: string;
  readonly reason?: SqliteStorageErrorReason;
  readonly name: string;
  readonly message: string;
  readonly cause?: WireError;
}

/** `toWire` describes `e` for {@link fromWire} on the other thread (one level of `cause`). */
export function toWire(e: unknown, depth = 0): WireError {
  const name = e instanceof Error ? e.name : 'Error';
  const message = e instanceof Error ? e.message : String(e);
  const cause =
    depth < 2 && e instanceof Error && e.cause !== undefined
      ? { cause: toWire(e.cause, depth + 1) }
      : {};
  if (SqliteStorageError.isInstance(e))
    return { kind: 'sqlite', reason: e.reason, code: e.code, name, message, ...cause };
  if (RaftError.isInstance(e)) return { kind: 'raft', code: e.code, name, message, ...cause };
  return { kind: 'other', name, message, ...cause };
}

/**
 * `fromWire` rebuilds the error `toWire` described: a `SqliteStorageError` with its reason, a
 * `RaftError` with its code, or a plain `Error` with the original name and message.
 */
export function fromWire(w: WireError): Error {
  const options = w.cause === undefined ? undefined : { cause: fromWire(w.cause) };
  if (w.kind === 'sqlite' && w.reason !== undefined)
    return new SqliteStorageError(w.reason, w.message, options);
  if (w.kind === 'raft' && w.code !== undefined)
    return new RaftError(w.code as RaftError['code'], w.message, options);
  const e = new Error(w.message, options);
  e.name = w.name;
  return e;
}

/** `rawWrite` is what the worker hands `SqliteLogStorage.save`, given the resolved snapshot data. */
export function rawWrite(
  w: WireWrite,
  entries: readonly Entry[],
  snapshotData: Uint8Array | undefined,
): StorageWrite {
  // The fields are passed on as they came (unchecked): the storage validates them itself, so
  // both threads report the same errors for the same bad input.
  const write: Record<string, unknown> = { entries };
  if (w.hardState !== undefined) write.hardState = w.hardState;
  if (w.confState !== undefined) write.confState = w.confState;
  if (w.snapshotMeta !== undefined) write.snapshot = { meta: w.snapshotMeta, data: snapshotData };
  return write as unknown as StorageWrite;
}
