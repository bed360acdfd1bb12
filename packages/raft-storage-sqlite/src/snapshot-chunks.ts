import type { Snapshot } from 'raft-core';
import {
  chunkChecksum,
  encodeState,
  plainConfState,
  type StateRecord,
  type StoredSnapshot,
} from './codec.js';
import { crc32Update } from './crc32.js';
import type { ChunkRow } from './statements.js';

/** A snapshot split into checksummed chunks, plus its `state` record. */
export interface EncodedSnapshot {
  readonly stored: StoredSnapshot;
  readonly record: StateRecord;
  readonly chunks: readonly Uint8Array[];
  readonly crcs: readonly number[];
}

/**
 * `encodeSnapshot` splits a snapshot's data into checksummed chunks of `chunkBytes` (views, no
 * copy), numbered from `firstSeq`.
 */
export function encodeSnapshot(s: Snapshot, chunkBytes: number, firstSeq: number): EncodedSnapshot {
  const chunks: Uint8Array[] = [];
  const crcs: number[] = [];
  let crc = 0;
  for (let off = 0; off < s.data.byteLength; off += chunkBytes) {
    const chunk = s.data.subarray(off, Math.min(off + chunkBytes, s.data.byteLength));
    crcs.push(chunkChecksum(firstSeq + chunks.length, chunk));
    crc = crc32Update(crc, chunk);
    chunks.push(chunk);
  }
  const stored = storedSnapshot(s, crc, chunks.length, firstSeq);
  return { stored, record: snapshotRecord(stored), chunks, crcs };
}

/** The stored description of `s` (whose data has CRC `crc` and fills `chunks` rows from `firstSeq`). */
export function storedSnapshot(
  s: Snapshot,
  crc: number,
  chunks: number,
  firstSeq: number,
): StoredSnapshot {
  return {
    meta: { index: s.meta.index, term: s.meta.term, confState: plainConfState(s.meta.confState) },
    size: s.data.byteLength,
    crc,
    chunks,
    firstSeq,
  };
}

/** The `state` record of a stored snapshot. */
export function snapshotRecord(stored: StoredSnapshot): StateRecord {
  return encodeState('snap', stored);
}

/**
 * `assembleSnapshot` verifies the chunk rows of `snap` (count, order, column types, each chunk's
 * CRC, total size, whole-data CRC) and joins them; it returns a description of the first problem
 * instead when they are damaged.
 */
export function assembleSnapshot(
  rows: readonly ChunkRow[],
  snap: StoredSnapshot,
): Uint8Array | string {
  if (rows.length !== snap.chunks)
    return `snapshot has ${rows.length} chunks, expected ${snap.chunks}`;
  const data = new Uint8Array(snap.size);
  let offset = 0;
  let crc = 0;
  for (let i = 0; i < rows.length; i++) {
    const [seq, chunk, chunkCrc] = rows[i]!;
    if (
      seq !== snap.firstSeq + i ||
      !(chunk instanceof Uint8Array) ||
      typeof chunkCrc !== 'number' ||
      chunkChecksum(seq, chunk) !== chunkCrc ||
      offset + chunk.byteLength > snap.size
    ) {
      return `snapshot chunk ${i} is damaged`;
    }
    data.set(chunk, offset);
    offset += chunk.byteLength;
    crc = crc32Update(crc, chunk);
  }
  if (offset !== snap.size || crc !== snap.crc) return 'snapshot data fails its checksum';
  return data;
}
