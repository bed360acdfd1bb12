import { RaftError } from 'raft-core';

const MARKER = Symbol.for('raft-kv.KvLimitError');

/** Default bound on a key's UTF-8 size, in bytes. */
export const DEFAULT_MAX_KEY_BYTES = 1024;
/** Default bound on a value's UTF-8 size, in bytes (1 MiB). */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

/**
 * `KvLimitError` rejects a key or value larger than the store's limit, before anything is
 * proposed (so the command is definitely not applied). Its `code` is `'InvalidArgument'` like
 * every other bad input; `limit` says which bound was hit (an HTTP front end maps it to 413).
 */
export class KvLimitError extends RaftError {
  /** Which bound was exceeded. */
  readonly limit: 'key' | 'value';
  /** The bound, in UTF-8 bytes. */
  readonly maxBytes: number;
  /** The rejected size, in UTF-8 bytes. */
  readonly actualBytes: number;
  /** Brand checked by {@link KvLimitError.isInstance}; a global symbol, so it survives duplicate installs. */
  readonly [MARKER] = true;

  constructor(limit: 'key' | 'value', maxBytes: number, actualBytes: number) {
    super('InvalidArgument', `${limit} too large: ${actualBytes} bytes (limit ${maxBytes})`);
    this.name = 'KvLimitError';
    this.limit = limit;
    this.maxBytes = maxBytes;
    this.actualBytes = actualBytes;
  }

  /**
   * `isInstance` recognizes a `KvLimitError` (not any `RaftError`), also across duplicate
   * installs of this package.
   */
  static override isInstance(e: unknown): e is KvLimitError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** Throws `RaftError('InvalidArgument')` with `message`. */
export function invalid(message: string): never {
  throw new RaftError('InvalidArgument', message);
}

/** True when `s` is a string holding no lone UTF-16 surrogate (so it round-trips as UTF-8). */
export function isWellFormedString(s: unknown): s is string {
  return (
    typeof s === 'string' && (s as unknown as { isWellFormed(): boolean }).isWellFormed() === true
  );
}

/** Checks a key: a well-formed, non-empty string. */
export function checkKey(key: unknown, what = 'key'): asserts key is string {
  if (!isWellFormedString(key) || key.length === 0) {
    invalid(`${what} must be a non-empty string without lone surrogates`);
  }
}

/** Checks a value: a well-formed string (may be empty). */
export function checkValue(value: unknown, what = 'value'): asserts value is string {
  if (!isWellFormedString(value)) invalid(`${what} must be a string without lone surrogates`);
}
