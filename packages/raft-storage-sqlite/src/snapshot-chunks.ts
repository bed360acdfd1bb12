import type { Snapshot } from 'raft-core';
import {
  chunkChecksum,
  encodeState,
  plainConfState,
  type StateRecord,
  type StoredSnapshot,
} from './codec.js';
import { crc32, crc32Update } from './crc32.js';
import type { ChunkRow } from './statements.js';

/** A snapshot split into checksummed chunks, plus its `state` record. */
export interface EncodedSnapshot {
  readonly stored: StoredSnapshot;
  readonly record: StateRecord;
  readonly chunks: readonly Uint8Array[];
  readonly crcs: readonly number[];
}

/** `encodeSnapshot` splits a snapshot's data into checksummed chunks of `chunkBytes` (views, no copy). */
export function encodeSnapshot(s: Snapshot, chunkBytes: number): EncodedSnapshot {
  const chunks: Uint8Array[] = [];
  const crcs: number[] = [];
  for (let off = 0; off < s.data.byteLength; off += chunkBytes) {
    const chunk = s.data.subarray(off, Math.min(off + chunkBytes, s.data.byteLength));
    crcs.push(chunkChecksum(chunks.length, chunk));
    chunks.push(chunk);
  }
  const stored: StoredSnapshot = {
    meta: { index: s.meta.index, term: s.meta.term, confState: plainConfState(s.meta.confState) },
    size: s.data.byteLength,
    crc: crc32(s.data),
    chunks: chunks.length,
  };
  return { stored, record: encodeState('snap', stored), chunks, crcs };
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
      seq !== i ||
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
