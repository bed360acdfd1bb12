import type Database from 'better-sqlite3';
import type { Index } from 'raft-core';

/** A `log` row as read by `selectRange` / `selectOne`. */
export type LogRow = [idx: number, entry: unknown];
/** A `snapshot_chunk` row. */
export type ChunkRow = [seq: number, data: unknown, crc: unknown];

type Stmt<P extends unknown[]> = Database.Statement<P, unknown>;
/** A statement whose rows come back as arrays (better-sqlite3's `raw` mode). */
type RawStmt<P extends unknown[]> = Database.Statement<P, unknown[]>;

/** `Statements` are the prepared statements of one open database. */
export interface Statements {
  readonly insertEntry: Stmt<[Index, Uint8Array]>;
  /** {@link INSERT_BATCH} rows in one statement: (idx, entry) pairs, flattened. */
  readonly insertEntries: Stmt<unknown[]>;
  readonly deleteFrom: Stmt<[Index]>;
  readonly deleteBelow: Stmt<[Index]>;
  readonly selectPage: RawStmt<[Index, Index]>;
  readonly selectRange: RawStmt<[Index, Index]>;
  readonly selectOne: RawStmt<[Index]>;
  readonly minIndex: RawStmt<[]>;
  readonly maxIndex: RawStmt<[]>;
  readonly minIndexFrom: RawStmt<[Index]>;
  readonly upsertState: Stmt<[string, Uint8Array, number]>;
  readonly selectState: RawStmt<[string]>;
  readonly insertChunk: Stmt<[number, Uint8Array, number]>;
  readonly deleteChunk: Stmt<[number]>;
  readonly selectChunks: RawStmt<[number, number]>;
  readonly chunkStats: RawStmt<[number, number]>;
  readonly staleChunk: RawStmt<[number, number]>;
  readonly maxChunkSeq: RawStmt<[]>;
  readonly syncNormal: Stmt<[]>;
}

/**
 * Rows per multi-row INSERT. Each `run` crosses from JavaScript into SQLite once, binds and
 * steps, which costs more than inserting a row; 32 rows per statement take about a fifth off
 * the per-row cost of a save (measured in a micro-benchmark, 1000-entry transactions).
 */
export const INSERT_BATCH = 32;

/** `prepareStatements` prepares every statement SqliteLogStorage runs (schema: see schema.ts). */
export function prepareStatements(db: Database.Database): Statements {
  const raw = <P extends unknown[]>(sql: string): RawStmt<P> =>
    db.prepare<P, unknown[]>(sql).raw(true);
  return {
    insertEntry: db.prepare<[Index, Uint8Array]>('INSERT INTO log (idx, entry) VALUES (?, ?)'),
    insertEntries: db.prepare<unknown[]>(
      `INSERT INTO log (idx, entry) VALUES ${Array(INSERT_BATCH).fill('(?, ?)').join(', ')}`,
    ),
    deleteFrom: db.prepare<[Index]>('DELETE FROM log WHERE idx >= ?'),
    deleteBelow: db.prepare<[Index]>('DELETE FROM log WHERE idx < ?'),
    // A page of entries as one row: better-sqlite3 spends about a microsecond per row and per
    // Buffer, so the records come back concatenated in one BLOB (see ENTRY_HEADER_BYTES).
    // Rows come in rowid order (a rowid range scan); the checksum covers the expected index, so
    // any other order would fail verification rather than return wrong data. Non-BLOB values (a
    // damaged serial type) are counted so that they fail the read instead of being coerced.
    selectPage: raw<[Index, Index]>(
      `SELECT count(*), sum(typeof(entry) != 'blob'), CAST(group_concat(entry, '') AS BLOB)
       FROM log WHERE idx >= ? AND idx < ?`,
    ),
    selectRange: raw<[Index, Index]>(
      'SELECT idx, entry FROM log WHERE idx >= ? AND idx < ? ORDER BY idx',
    ),
    selectOne: raw<[Index]>('SELECT idx, entry FROM log WHERE idx = ?'),
    minIndex: raw<[]>('SELECT min(idx) FROM log'),
    maxIndex: raw<[]>('SELECT max(idx) FROM log'),
    minIndexFrom: raw<[Index]>('SELECT min(idx) FROM log WHERE idx >= ?'),
    upsertState: db.prepare<[string, Uint8Array, number]>(
      'INSERT INTO state (key, value, crc) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, crc = excluded.crc',
    ),
    selectState: raw<[string]>('SELECT value, crc FROM state WHERE key = ?'),
    insertChunk: db.prepare<[number, Uint8Array, number]>(
      'INSERT INTO snapshot_chunk (seq, data, crc) VALUES (?, ?, ?)',
    ),
    deleteChunk: db.prepare<[number]>('DELETE FROM snapshot_chunk WHERE seq = ?'),
    // Chunks of the snapshot in force: seq in [firstSeq, firstSeq + chunks).
    selectChunks: raw<[number, number]>(
      'SELECT seq, data, crc FROM snapshot_chunk WHERE seq >= ? AND seq < ? ORDER BY seq',
    ),
    chunkStats: raw<[number, number]>(
      'SELECT count(*), coalesce(sum(length(data)), 0) FROM snapshot_chunk WHERE seq >= ? AND seq < ?',
    ),
    // A chunk outside [lo, hi): a replaced snapshot's, or a staged one that was never installed.
    staleChunk: raw<[number, number]>(
      'SELECT seq FROM snapshot_chunk WHERE seq < ? OR seq >= ? LIMIT 1',
    ),
    maxChunkSeq: raw<[]>('SELECT max(seq) FROM snapshot_chunk'),
    syncNormal: db.prepare<[]>('PRAGMA synchronous = NORMAL'),
  };
}
