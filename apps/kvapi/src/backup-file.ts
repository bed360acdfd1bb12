/**
 * The backup file: one line of JSON (the header, readable with `head -1`), then the key-value
 * state machine's snapshot bytes exactly as raft-kv writes them. The header carries the
 * snapshot's length and SHA-256, so a truncated or damaged file is refused before anything is
 * restored from it; raft-kv's own checksum is verified on top.
 */
import { createHash } from 'node:crypto';
import { KvStateMachine } from 'raft-kv';

export const BACKUP_FORMAT = 'kvapi-backup';
export const BACKUP_VERSION = 1;

/** The first line of a backup file. */
export interface BackupHeader {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: typeof BACKUP_VERSION;
  /** The cluster and node it was taken from. */
  readonly clusterId: string;
  readonly node: string;
  /** The log index the state covers: every entry up to it is in, none after it. */
  readonly index: number;
  /** The voters at the time (informational; `restore` takes the new cluster's list). */
  readonly voters: readonly string[];
  readonly keys: number;
  /** ISO time on the machine that wrote it (informational). */
  readonly createdAt: string;
  /** Length and SHA-256 (hex) of the snapshot bytes after the header line. */
  readonly bytes: number;
  readonly sha256: string;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Builds the file's bytes from a raft-kv snapshot and what it describes. */
export function encodeBackup(
  info: Omit<BackupHeader, 'format' | 'version' | 'bytes' | 'sha256' | 'createdAt'>,
  snapshot: Uint8Array,
): Buffer {
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    ...info,
    voters: [...info.voters],
    createdAt: new Date().toISOString(),
    bytes: snapshot.length,
    sha256: sha256(snapshot),
  };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), snapshot]);
}

/** Parses and verifies a backup file; throws an Error naming what is wrong. */
export function decodeBackup(file: Uint8Array): { header: BackupHeader; snapshot: Uint8Array } {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const nl = buf.indexOf(10);
  if (nl < 0 || nl > 64 * 1024) throw new Error('not a kvapi backup (no header line)');
  let h: Partial<BackupHeader>;
  try {
    h = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Partial<BackupHeader>;
  } catch {
    throw new Error('not a kvapi backup (header is not JSON)');
  }
  if (h.format !== BACKUP_FORMAT) throw new Error('not a kvapi backup (wrong format field)');
  if (h.version !== BACKUP_VERSION) {
    throw new Error(`backup format version ${String(h.version)} is not supported (want 1)`);
  }
  if (
    typeof h.index !== 'number' ||
    !Number.isSafeInteger(h.index) ||
    h.index < 0 ||
    typeof h.bytes !== 'number' ||
    typeof h.sha256 !== 'string'
  ) {
    throw new Error('damaged backup header');
  }
  const snapshot = new Uint8Array(buf.subarray(nl + 1));
  if (snapshot.length !== h.bytes) {
    throw new Error(
      `backup is truncated or padded: ${snapshot.length} bytes, header says ${h.bytes}`,
    );
  }
  if (sha256(snapshot) !== h.sha256) throw new Error('backup checksum mismatch (damaged file)');
  // raft-kv validates the snapshot's own structure and checksum.
  try {
    new KvStateMachine({}).restore(snapshot);
  } catch (e) {
    throw new Error(`backup holds an unreadable snapshot: ${(e as Error).message}`);
  }
  return { header: h as BackupHeader, snapshot };
}
