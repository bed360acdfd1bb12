import type { ConfState, Entry, Index, Term } from 'raft-core';

/** `hash32` is a small integer hash (murmur3's finalizer) for deterministic test data. */
export function hash32(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h ^ Math.floor(x / 0x1_0000_0000), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Deterministic bytes for (`a`, `b`, `salt`): the same arguments always give the same data. */
export function bytesFor(len: number, a: number, b: number, salt = 0): Uint8Array {
  const d = new Uint8Array(len);
  let x = hash32(a, b, salt) | 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    d[i] = x & 0xff;
  }
  return d;
}

/** Entries `[start, start + count)` of `term` whose sizes (0 … maxLen) and bytes follow from `salt`. */
export function makeEntries(
  start: Index,
  count: number,
  term: Term,
  salt: number,
  maxLen = 300,
): Entry[] {
  const out: Entry[] = [];
  for (let i = start; i < start + count; i++) {
    const len = hash32(i, term, salt) % (maxLen + 1);
    out.push({
      index: i,
      term,
      type: hash32(i, salt) % 10 === 0 ? 1 : 0,
      data: bytesFor(len, i, term, salt),
    });
  }
  return out;
}

/** A few configurations to pick from. */
export const CONF_STATES: readonly ConfState[] = [
  { voters: ['n1'], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
  {
    voters: ['n1', 'n2', 'n3'],
    learners: ['n4'],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  },
  {
    voters: ['n1', 'n2', 'n4'],
    learners: [],
    votersOutgoing: ['n1', 'n2', 'n3'],
    learnersNext: ['n3'],
    autoLeave: true,
  },
];
