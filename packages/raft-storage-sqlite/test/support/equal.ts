import { expect } from 'vitest';

/** `equal` is a fast structural equality for plain data and byte arrays. */
export function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return (
      a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
    );
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => equal(x, b[i]))
    );
  }
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length &&
      ka.every((k) => equal((a as never)[k], (b as never)[k]))
    );
  }
  return false;
}

/**
 * `expectEqual` asserts structural equality; vitest's `toEqual` (slow on many byte arrays) only
 * runs to report a difference.
 */
export function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (!equal(actual, expected)) expect(actual, what).toEqual(expected);
}
