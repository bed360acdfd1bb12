import {
  SqliteLogStorage,
  type SqliteLogStorageOptions,
  SqliteWorkerLogStorage,
} from '../../src/index.js';

/**
 * Where the database runs: `'main'` is {@link SqliteLogStorage} on the calling thread,
 * `'worker'` is {@link SqliteWorkerLogStorage}. Tests that hold for both run once per mode.
 */
export type Thread = 'main' | 'worker';

export const THREADS: readonly Thread[] = ['main', 'worker'];

/** Either storage; they offer the same methods. */
export type AnySqliteStorage = SqliteLogStorage | SqliteWorkerLogStorage;

/** `openOn` opens the database at `options.path` on `thread`. */
export function openOn(
  thread: Thread,
  options: SqliteLogStorageOptions,
): Promise<AnySqliteStorage> {
  return thread === 'worker'
    ? SqliteWorkerLogStorage.open(options)
    : SqliteLogStorage.open(options);
}
