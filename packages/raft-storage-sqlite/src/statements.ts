import type Database from 'better-sqlite3';
import type { Index } from 'raft-core';

/** A `log_run` row as read by `runAt` / `selectRuns`: entries `[first, last]`, back to back. */
export type RunRow = [first: unknown, last: unknown, records: unknown];
/** A `snapshot_chunk` row. */
export type ChunkRow = [seq: number, data: unknown, crc: unknown];

type Stmt<P extends unknown[]> = Database.Statement<P, unknown>;
/** A statement whose rows come back as arrays (better-sqlite3's `raw` mode). */
type RawStmt<P extends unknown[]> = Database.Statement<P, unknown[]>;

/** `Statements` are the prepared statements of one open database. */
export interface Statements {
  readonly insertRun: Stmt<[Index, Index, Uint8Array]>;
  readonly updateRun: Stmt<[Index, Uint8Array, Index]>;
  /** Deletes the runs that start at or after an index. */
  readonly deleteRunsFrom: Stmt<[Index]>;
  /** Deletes the runs that start below the first index and end below the second. */
  readonly deleteRunsBelow: Stmt<[Index, Index]>;
  readonly selectPage: RawStmt<[Index, Index]>;
  readonly selectRuns: RawStmt<[Index, Index]>;
  /** The run holding an index, or else the nearest one before it. */
  readonly runAt: RawStmt<[Index]>;
  readonly firstRun: RawStmt<[]>;
  readonly lastRun: RawStmt<[]>;
  readonly firstRunFrom: RawStmt<[Index]>;
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

/** `prepareStatements` prepares every statement SqliteLogStorage runs (schema: see schema.ts). */
export function prepareStatements(db: Database.Database): Statements {
  const raw = <P extends unknown[]>(sql: string): RawStmt<P> =>
    db.prepare<P, unknown[]>(sql).raw(true);
  return {
    insertRun: db.prepare<[Index, Index, Uint8Array]>(
      'INSERT INTO log_run (first, last, records) VALUES (?, ?, ?)',
    ),
    updateRun: db.prepare<[Index, Uint8Array, Index]>(
      'UPDATE log_run SET last = ?, records = ? WHERE first = ?',
    ),
    deleteRunsFrom: db.prepare<[Index]>('DELETE FROM log_run WHERE first >= ?'),
    deleteRunsBelow: db.prepare<[Index, Index]>('DELETE FROM log_run WHERE first < ? AND last < ?'),
    // The runs covering [lo, hi) as one row (from the run holding lo, or the first if none can): better-sqlite3 spends about a microsecond per row
    // and per Buffer, so the records come back concatenated in one BLOB (see ENTRY_HEADER_BYTES),
    // with the bounds that say which indexes they hold. Rows come in rowid order (a rowid range
    // scan); every record's checksum covers the index it is read at, so any other order would
    // fail verification rather than return wrong data. Values of the wrong type (a damaged
    // serial type: STRICT checks types on write only) are counted so that they fail the read.
    selectPage: raw<[Index, Index]>(
      `SELECT count(*), sum(typeof(records) != 'blob' OR typeof(last) != 'integer'),
              min(first), max(last), sum(last - first + 1), CAST(group_concat(records, '') AS BLOB)
       FROM log_run
       WHERE first >= coalesce((SELECT first FROM log_run WHERE first <= ? ORDER BY first DESC LIMIT 1), 0)
         AND first < ?`,
    ),
    selectRuns: raw<[Index, Index]>(
      `SELECT first, last, records FROM log_run
       WHERE first >= coalesce((SELECT first FROM log_run WHERE first <= ? ORDER BY first DESC LIMIT 1), 0)
         AND first < ?
       ORDER BY first`,
    ),
    runAt: raw<[Index]>(
      'SELECT first, last, records FROM log_run WHERE first <= ? ORDER BY first DESC LIMIT 1',
    ),
    firstRun: raw<[]>('SELECT first, last FROM log_run ORDER BY first LIMIT 1'),
    lastRun: raw<[]>('SELECT first, last FROM log_run ORDER BY first DESC LIMIT 1'),
    firstRunFrom: raw<[Index]>('SELECT min(first) FROM log_run WHERE first >= ?'),
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
