import { expect } from 'vitest';
import { SqliteStorageError, type SqliteStorageErrorReason } from '../../src/index.js';

/** `expectStorageError` awaits `p` and asserts it rejects with a SqliteStorageError of `reason`. */
export async function expectStorageError(
  p: Promise<unknown>,
  reason: SqliteStorageErrorReason,
): Promise<SqliteStorageError> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  expect(
    SqliteStorageError.isInstance(error),
    `expected SqliteStorageError(${reason}), got ${String(error)}`,
  ).toBe(true);
  const e = error as SqliteStorageError;
  expect(e.reason, e.message).toBe(reason);
  expect(e.code).toBe('Storage');
  return e;
}
