import { RaftError } from 'raft-core';

const MARKER = Symbol.for('raft-storage-sqlite.error');

/**
 * Why a {@link SqliteStorageError} was thrown. Switch on it, never on the message text.
 *
 * - `Corrupt`: the file is not a readable SQLite database, or a checksum, a hole in the log or a
 *   malformed record shows that stored data is damaged. Nothing read from it is returned.
 * - `NotRaftDatabase`: a valid SQLite database that was not created by raft-storage-sqlite.
 * - `SchemaTooNew`: written by a newer version of this package (`PRAGMA user_version` is higher
 *   than this version understands); upgrade the package.
 * - `IdentityMismatch`: the database belongs to another cluster or node.
 * - `NotFound`: the file does not exist and `create: false` was given.
 * - `Locked`: another connection (this or another process) has the database open.
 * - `Io`: SQLite failed to read or write (disk full, I/O error, …).
 * - `Failed`: an earlier write failed, so the in-memory view can no longer be trusted; reopen.
 * - `Closed`: the storage was closed.
 */
export type SqliteStorageErrorReason =
  | 'Corrupt'
  | 'NotRaftDatabase'
  | 'SchemaTooNew'
  | 'IdentityMismatch'
  | 'NotFound'
  | 'Locked'
  | 'Io'
  | 'Failed'
  | 'Closed';

/**
 * `SqliteStorageError` is every failure of {@link SqliteLogStorage} other than the port's own
 * `RaftError('Compacted' | 'Unavailable' | 'InvalidArgument')`. Its `code` is always `'Storage'`;
 * `reason` says what went wrong. `SqliteStorageError.isInstance(e)` works across duplicate installs.
 */
export class SqliteStorageError extends RaftError {
  /** What went wrong (see {@link SqliteStorageErrorReason}). */
  readonly reason: SqliteStorageErrorReason;
  /**
   * Brand checked by {@link SqliteStorageError.isInstance}; a global symbol, so it survives
   * duplicate installs.
   */
  readonly [MARKER] = true;

  constructor(reason: SqliteStorageErrorReason, message: string, options?: { cause?: unknown }) {
    super('Storage', message, options);
    this.name = 'SqliteStorageError';
    this.reason = reason;
  }

  static override isInstance(e: unknown): e is SqliteStorageError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[MARKER] === true;
  }
}

/**
 * `toStorageError` maps a better-sqlite3 `SqliteError` (or anything else thrown while talking to
 * SQLite) onto a {@link SqliteStorageError}; `RaftError`s pass through unchanged.
 */
export function toStorageError(e: unknown, context: string): RaftError {
  if (RaftError.isInstance(e)) return e;
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const detail = e instanceof Error ? e.message : String(e);
  const message = `${context}: ${detail}${typeof code === 'string' ? ` (${code})` : ''}`;
  if (typeof code === 'string') {
    if (
      code.startsWith('SQLITE_CORRUPT') ||
      code === 'SQLITE_NOTADB' ||
      code === 'SQLITE_IOERR_SHORT_READ' ||
      code === 'SQLITE_FORMAT'
    ) {
      return new SqliteStorageError('Corrupt', message, { cause: e });
    }
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      return new SqliteStorageError('Locked', message, { cause: e });
    }
  }
  return new SqliteStorageError('Io', message, { cause: e });
}

/** `corrupt` builds a {@link SqliteStorageError} with reason `Corrupt`. */
export function corrupt(path: string, message: string): SqliteStorageError {
  return new SqliteStorageError('Corrupt', `${path}: ${message}`);
}
