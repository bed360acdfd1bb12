import type { InitialState, StorageWrite } from 'raft-core';
import { bytesFor, CONF_STATES, makeEntries } from './payload.js';

/**
 * The crash test's wire protocol. The child prints one line per event on stdout:
 * - `opening` before it opens the storage, `ready` once it is open;
 * - `I <json>`: the {@link WriteDesc} it is about to `save` (the intent);
 * - `A`: that save resolved (the acknowledgement).
 * Both sides rebuild the exact `StorageWrite` from the description with {@link buildWrite}.
 */
export interface WriteDesc {
  /** Entries: [start, count, term, salt]. */
  readonly e?: readonly [number, number, number, number];
  /** Hard state: [term, vote, commit]. */
  readonly h?: readonly [number, string | null, number];
  /** Snapshot: [index, term, data length, conf state number]. */
  readonly s?: readonly [number, number, number, number];
  readonly sync: boolean;
}

/** `buildWrite` turns a description into the write both processes agree on. */
export function buildWrite(d: WriteDesc): StorageWrite {
  return {
    entries: d.e === undefined ? [] : makeEntries(d.e[0], d.e[1], d.e[2], d.e[3], 200),
    ...(d.h === undefined ? {} : { hardState: { term: d.h[0], vote: d.h[1], commit: d.h[2] } }),
    ...(d.s === undefined
      ? {}
      : {
          snapshot: {
            meta: { index: d.s[0], term: d.s[1], confState: CONF_STATES[d.s[3]]! },
            data: bytesFor(d.s[2], d.s[0], d.s[1]),
          },
        }),
  };
}

/** `mulberry32` is a small seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `nextWrite` picks the child's next write from its current state: mostly appends (sometimes
 * replacing a suffix), hard state updates, snapshots that keep the log and snapshots that
 * discard it. `termAt(i)` gives the term of a stored entry.
 */
export async function nextWrite(
  rnd: () => number,
  st: InitialState,
  termAt: (i: number) => Promise<number>,
): Promise<WriteDesc> {
  const sync = rnd() < 0.9;
  const term = Math.max(1, st.hardState.term);
  const salt = Math.floor(rnd() * 1e9);
  const r = rnd();
  if (r < 0.75) {
    const count = 1 + Math.floor(rnd() * 40);
    const conflict = rnd() < 0.1 && st.lastIndex >= st.firstIndex;
    const start = conflict
      ? Math.max(st.firstIndex, st.lastIndex - Math.floor(rnd() * 5))
      : st.lastIndex + 1;
    const t = conflict ? term + 1 : term;
    return {
      e: [start, count, t, salt],
      ...(conflict || rnd() < 0.3 ? { h: [t, 'n1', start - 1] } : {}),
      sync,
    };
  }
  if (r < 0.85)
    return { h: [term + (rnd() < 0.5 ? 1 : 0), rnd() < 0.5 ? 'n2' : null, st.lastIndex], sync };
  const len = Math.floor(rnd() * 20_000);
  const conf = Math.floor(rnd() * 3);
  if (r < 0.95 && st.lastIndex >= st.firstIndex) {
    const index = st.firstIndex + Math.floor(rnd() * (st.lastIndex - st.firstIndex + 1));
    return { s: [index, await termAt(index), len, conf], sync };
  }
  const index = st.lastIndex + Math.floor(rnd() * 3);
  return { s: [index, term + 1, len, conf], h: [term + 1, null, index], sync };
}
