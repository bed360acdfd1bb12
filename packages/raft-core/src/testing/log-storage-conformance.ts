import { RaftError, type RaftErrorCode } from '../errors.js';
import type { InitialState, LogStorage, StorageWrite } from '../ports.js';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  type Entry,
  EntryType,
  type HardState,
  type Index,
  type Snapshot,
  type Term,
} from '../types.js';

/**
 * `LogStorageFactory` creates one fresh, empty storage per conformance case.
 *
 * - `reopen` (optional) closes the current instance and opens a new one over the same durable
 *   state, returning it; later calls reopen the latest instance. Without it, the persistence
 *   cases check the live instance instead.
 * - `cleanup` (optional) closes whatever instance is current and removes its files; it runs after
 *   every case, passed or failed.
 */
export type LogStorageFactory = () => Promise<{
  /** A fresh, empty storage to test. */
  storage: LogStorage;
  /** Closes `storage` and opens the same data again (to check durability); omit for memory-only storage. */
  reopen?: () => Promise<LogStorage>;
  /** Releases everything the factory created (files, handles). */
  cleanup?: () => Promise<void>;
}>;

/** One named conformance check; `run` throws an `Error` describing the first violation. */
export interface LogStorageConformanceCase {
  /** What the case checks, as a test name. */
  readonly name: string;
  /** Runs it on a fresh storage from the factory; rejects with the first violation. */
  readonly run: () => Promise<void>;
}

interface Ctx {
  storage: LogStorage;
  /** Reopen (if the factory supports it) and return the storage to use from now on. */
  reopen(): Promise<LogStorage>;
}

type Body = (ctx: Ctx) => Promise<void>;

/**
 * `logStorageConformanceCases` is the {@link LogStorage} conformance suite as separate cases, one
 * per contract item, so a test runner can report each (e.g. one `it` per case). Every case gets a
 * fresh storage from `factory`.
 */
export function logStorageConformanceCases(
  factory: LogStorageFactory,
): LogStorageConformanceCase[] {
  return CASES.map(([name, body]) => ({ name, run: () => runCase(factory, body) }));
}

/**
 * `logStorageConformance` runs every case of {@link logStorageConformanceCases} in order and
 * throws an `Error` naming the first failing case (its cause is the original failure).
 */
export async function logStorageConformance(factory: LogStorageFactory): Promise<void> {
  for (const c of logStorageConformanceCases(factory)) {
    try {
      await c.run();
    } catch (e) {
      throw new Error(`LogStorage conformance case "${c.name}" failed: ${describeError(e)}`, {
        cause: e,
      });
    }
  }
}

async function runCase(factory: LogStorageFactory, body: Body): Promise<void> {
  const made = await factory();
  const ctx: Ctx = {
    storage: made.storage,
    reopen: async () => {
      if (made.reopen !== undefined) ctx.storage = await made.reopen();
      return ctx.storage;
    },
  };
  try {
    await body(ctx);
  } finally {
    if (made.cleanup !== undefined) await made.cleanup();
    else await ctx.storage.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function fail(message: string): never {
  throw new Error(message);
}

function check(cond: boolean, message: string): void {
  if (!cond) fail(message);
}

function describeError(e: unknown): string {
  if (RaftError.isInstance(e)) return `RaftError(${e.code}): ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

function render(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x instanceof Uint8Array
      ? `<${x.byteLength} bytes ${Array.from(x.subarray(0, 8)).join(',')}…>`
      : x,
  );
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.byteLength !== b.byteLength)
      return false;
    for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) =>
      deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    );
  }
  return false;
}

function checkEqual(actual: unknown, expected: unknown, what: string): void {
  if (!deepEqual(actual, expected))
    fail(`${what}: expected ${render(expected)}, got ${render(actual)}`);
}

/** Compare entries field by field (a storage may return `Buffer`s or other `Uint8Array` views). */
function checkEntries(actual: readonly Entry[], expected: readonly Entry[], what: string): void {
  const strip = (es: readonly Entry[]) =>
    es.map((e) => ({ index: e.index, term: e.term, type: e.type, data: e.data }));
  if (!Array.isArray(actual)) fail(`${what}: expected an array, got ${render(actual)}`);
  checkEqual(strip(actual), strip(expected), what);
}

async function checkRejects(
  p: Promise<unknown>,
  what: string,
  code?: RaftErrorCode,
): Promise<void> {
  let result: unknown;
  try {
    result = await p;
  } catch (e) {
    if (code !== undefined && !(RaftError.isInstance(e) && e.code === code)) {
      fail(`${what}: expected RaftError('${code}'), got ${describeError(e)}`);
    }
    return;
  }
  fail(
    `${what}: expected a rejection${code === undefined ? '' : ` with RaftError('${code}')`}, got ${render(result)}`,
  );
}

async function checkState(
  s: LogStorage,
  expected: Partial<InitialState>,
  what: string,
): Promise<InitialState> {
  const st = await s.initialState();
  for (const [k, v] of Object.entries(expected)) {
    checkEqual(st[k as keyof InitialState], v, `${what}: initialState().${k}`);
  }
  return st;
}

/** Deterministic payload of entry (`index`, `term`), `len` bytes. */
function payload(index: Index, term: Term, len: number): Uint8Array {
  const d = new Uint8Array(len);
  for (let i = 0; i < len; i++) d[i] = (index * 31 + term * 17 + i * 7) & 0xff;
  return d;
}

/** Entries `[lo, hi)` of term `term`; sizes cycle through 0..`maxLen` unless `len` is given. */
function ents(lo: Index, hi: Index, term: Term, len?: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i < hi; i++) {
    const type = i % 7 === 3 ? EntryType.ConfChange : EntryType.Normal;
    out.push({ index: i, term, type, data: payload(i, term, len ?? (i * 13) % 50) });
  }
  return out;
}

function snap(index: Index, term: Term, confState: ConfState = CONF_A, len = 64): Snapshot {
  return { meta: { index, term, confState }, data: payload(index, term + 1000, len) };
}

async function append(s: LogStorage, entries: Entry[], extra: Omit<StorageWrite, 'entries'> = {}) {
  await s.save({ ...extra, entries }, true);
}

const CONF_A: ConfState = {
  voters: ['n1', 'n2', 'n3'],
  learners: ['n4'],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

const CONF_JOINT: ConfState = {
  voters: ['n1', 'n2', 'n5'],
  learners: ['n6'],
  votersOutgoing: ['n1', 'n2', 'n3'],
  learnersNext: ['n3'],
  autoLeave: true,
};

/** Check everything observable on `s` against `log` (the expected entries) and `st`. */
async function checkAll(
  s: LogStorage,
  expected: Partial<InitialState>,
  log: readonly Entry[],
  snapshot: Snapshot | null,
  what: string,
): Promise<void> {
  const st = await checkState(s, expected, what);
  checkEntries(await s.entries(st.firstIndex, st.lastIndex + 1), log, `${what}: entries`);
  for (const e of log) checkEqual(await s.term(e.index), e.term, `${what}: term(${e.index})`);
  checkEqual(
    await s.term(st.firstIndex - 1),
    snapshot?.meta.term ?? 0,
    `${what}: term at snapshot`,
  );
  const got = await s.snapshot();
  if (snapshot === null) checkEqual(got, null, `${what}: snapshot()`);
  else {
    check(got !== null, `${what}: snapshot() returned null`);
    checkEqual(got?.meta, snapshot.meta, `${what}: snapshot().meta`);
    checkEqual(got?.data, snapshot.data, `${what}: snapshot().data`);
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

const CASES: Array<[string, Body]> = [
  [
    'a new storage is empty',
    async ({ storage: s }) => {
      await checkState(
        s,
        {
          hardState: EMPTY_HARD_STATE,
          confState: EMPTY_CONF_STATE,
          snapshot: null,
          firstIndex: 1,
          lastIndex: 0,
        },
        'new storage',
      );
      checkEqual(await s.snapshot(), null, 'snapshot()');
      checkEqual(await s.term(0), 0, 'term(0)');
      checkEntries(await s.entries(1, 1), [], 'entries(1, 1)');
    },
  ],
  [
    'appended entries read back in order with their bytes and types',
    async ({ storage: s }) => {
      const log = ents(1, 21, 1);
      await append(s, log.slice(0, 1));
      await append(s, log.slice(1, 12));
      await append(s, log.slice(12));
      await checkState(s, { firstIndex: 1, lastIndex: 20 }, 'after appends');
      checkEntries(await s.entries(1, 21), log, 'entries(1, 21)');
      checkEntries(await s.entries(5, 9), log.slice(4, 8), 'entries(5, 9)');
      checkEntries(await s.entries(20, 21), log.slice(19), 'entries(20, 21)');
      checkEntries(await s.entries(7, 7), [], 'entries(7, 7)');
      checkEntries(await s.entries(21, 21), [], 'entries(21, 21)');
      for (const e of log) checkEqual(await s.term(e.index), e.term, `term(${e.index})`);
    },
  ],
  [
    'entries stops before maxBytes is exceeded but returns at least one entry',
    async ({ storage: s }) => {
      const log = ents(1, 11, 1, 10);
      await append(s, log);
      const cases: Array<[number, number]> = [
        [0, 1],
        [9, 1],
        [10, 1],
        [19, 1],
        [20, 2],
        [25, 2],
        [30, 3],
        [99, 9],
        [100, 10],
        [1_000_000, 10],
      ];
      for (const [max, n] of cases) {
        checkEntries(await s.entries(1, 11, max), log.slice(0, n), `entries(1, 11, ${max})`);
      }
      checkEntries(await s.entries(4, 6, 0), log.slice(3, 4), 'entries(4, 6, 0)');
      checkEntries(await s.entries(10, 11, 0), log.slice(9), 'entries(10, 11, 0)');
      const big = ents(11, 13, 1, 500);
      await append(s, big);
      checkEntries(await s.entries(11, 13, 100), big.slice(0, 1), 'an oversized first entry');
    },
  ],
  [
    'entries and term reject indexes beyond the last entry',
    async ({ storage: s }) => {
      await checkRejects(s.entries(1, 2), 'entries(1, 2) on an empty log');
      await checkRejects(s.term(1), 'term(1) on an empty log');
      await append(s, ents(1, 6, 2));
      await checkRejects(s.entries(1, 7), 'entries(1, 7) with last index 5');
      await checkRejects(s.entries(6, 8), 'entries(6, 8) with last index 5');
      await checkRejects(s.entries(4, 3), 'entries(4, 3) (lo > hi)');
      await checkRejects(s.term(6), 'term(6) with last index 5');
      checkEqual(await s.term(0), 0, 'term(0) without a snapshot');
    },
  ],
  [
    'save replaces a conflicting suffix',
    async ({ storage: s }) => {
      await append(s, ents(1, 11, 1));
      await append(s, ents(6, 9, 2));
      const log = [...ents(1, 6, 1), ...ents(6, 9, 2)];
      await checkState(s, { firstIndex: 1, lastIndex: 8 }, 'after truncating at 6');
      checkEntries(await s.entries(1, 9), log, 'entries after truncation');
      await checkRejects(s.term(9), 'term(9) after truncation to 8');
      await checkRejects(s.entries(1, 10), 'entries(1, 10) after truncation to 8');
      await append(s, ents(9, 10, 3));
      checkEntries(await s.entries(1, 10), [...log, ...ents(9, 10, 3)], 'append after truncation');
      await append(s, ents(1, 3, 4));
      await checkState(s, { firstIndex: 1, lastIndex: 2 }, 'after replacing the whole log');
      checkEntries(await s.entries(1, 3), ents(1, 3, 4), 'entries after replacing the whole log');
      await append(s, ents(3, 4, 4));
      await append(s, ents(3, 4, 5));
      checkEntries(
        await s.entries(1, 4),
        [...ents(1, 3, 4), ...ents(3, 4, 5)],
        'replacing the last entry',
      );
    },
  ],
  [
    'save rejects a write that would leave a hole, and changes nothing',
    async ({ storage: s }) => {
      await checkRejects(append(s, ents(2, 4, 1)), 'first write starting at 2');
      await append(s, ents(1, 6, 1), { hardState: { term: 1, vote: 'n1', commit: 2 } });
      await checkRejects(
        append(s, ents(7, 9, 2), { hardState: { term: 2, vote: null, commit: 5 } }),
        'write starting at 7 with last index 5',
      );
      await checkState(
        s,
        { firstIndex: 1, lastIndex: 5, hardState: { term: 1, vote: 'n1', commit: 2 } },
        'after a rejected write',
      );
      checkEntries(await s.entries(1, 6), ents(1, 6, 1), 'entries after a rejected write');
    },
  ],
  [
    'save rejects non-consecutive entries, and changes nothing',
    async ({ storage: s }) => {
      await append(s, ents(1, 4, 1));
      const bad = [...ents(4, 6, 1), ...ents(7, 8, 1)];
      await checkRejects(append(s, bad), 'entries 4, 5, 7');
      const dup = [...ents(4, 6, 1), ...ents(5, 6, 1)];
      await checkRejects(append(s, dup), 'entries 4, 5, 5');
      await checkState(s, { firstIndex: 1, lastIndex: 3 }, 'after rejected writes');
      checkEntries(await s.entries(1, 4), ents(1, 4, 1), 'entries after rejected writes');
    },
  ],
  [
    'hard state round-trips and the latest write wins',
    async ({ storage: s }) => {
      const h1: HardState = { term: 3, vote: 'n2', commit: 0 };
      await s.save({ entries: [], hardState: h1 }, true);
      await checkState(s, { hardState: h1, firstIndex: 1, lastIndex: 0 }, 'after hard state 1');
      const h2: HardState = { term: 4, vote: null, commit: 2 };
      await append(s, ents(1, 4, 4), { hardState: h2 });
      await checkState(s, { hardState: h2, lastIndex: 3 }, 'after hard state 2');
      await append(s, ents(4, 5, 4));
      await checkState(s, { hardState: h2, lastIndex: 4 }, 'a write without hardState keeps it');
      const h3: HardState = { term: 2 ** 40, vote: 'node with spaces — ünïcödé', commit: 4 };
      await s.save({ entries: [], hardState: h3 }, true);
      await checkState(s, { hardState: h3 }, 'large term and odd vote');
    },
  ],
  [
    'conf state round-trips, including joint configurations',
    async ({ storage: s }) => {
      await s.save({ entries: [], confState: CONF_A }, true);
      await checkState(s, { confState: CONF_A }, 'after conf A');
      await append(s, ents(1, 3, 1));
      await checkState(s, { confState: CONF_A }, 'a write without confState keeps it');
      await s.save({ entries: [], confState: CONF_JOINT }, true);
      await checkState(s, { confState: CONF_JOINT }, 'after a joint conf');
    },
  ],
  [
    'one write applies snapshot, then entries, then hard state',
    async ({ storage: s }) => {
      const sn = snap(5, 2, CONF_JOINT);
      const h: HardState = { term: 3, vote: 'n1', commit: 5 };
      await s.save({ snapshot: sn, entries: ents(6, 9, 3), hardState: h }, true);
      const st = {
        hardState: h,
        confState: CONF_JOINT,
        snapshot: sn.meta,
        firstIndex: 6,
        lastIndex: 8,
      };
      await checkAll(s, st, ents(6, 9, 3), sn, 'after a combined write');
    },
  ],
  [
    'installing a snapshot discards covered entries and keeps a matching suffix',
    async ({ storage: s }) => {
      await append(s, ents(1, 11, 1));
      const sn = snap(6, 1);
      await s.save({ snapshot: sn, entries: [] }, true);
      await checkAll(
        s,
        { snapshot: sn.meta, confState: CONF_A, firstIndex: 7, lastIndex: 10 },
        ents(7, 11, 1),
        sn,
        'after a snapshot at 6',
      );
      await append(s, ents(11, 13, 1));
      checkEntries(await s.entries(7, 13), ents(7, 13, 1), 'appending after the snapshot');
    },
  ],
  [
    'installing a snapshot whose term conflicts with the log discards the whole log',
    async ({ storage: s }) => {
      await append(s, ents(1, 11, 1));
      const sn = snap(6, 2);
      await s.save({ snapshot: sn, entries: [] }, true);
      await checkAll(
        s,
        { snapshot: sn.meta, firstIndex: 7, lastIndex: 6 },
        [],
        sn,
        'after a snapshot at 6, term 2',
      );
      await checkRejects(s.term(7), 'term(7) after the log was discarded');
      await append(s, ents(7, 9, 2));
      checkEntries(await s.entries(7, 9), ents(7, 9, 2), 'appending after the snapshot');
    },
  ],
  [
    'installing a snapshot beyond the last index empties the log',
    async ({ storage: s }) => {
      await append(s, ents(1, 4, 1));
      const sn = snap(15, 3);
      await s.save({ snapshot: sn, entries: [] }, true);
      await checkAll(
        s,
        { snapshot: sn.meta, firstIndex: 16, lastIndex: 15 },
        [],
        sn,
        'after a snapshot at 15',
      );
      await checkRejects(append(s, ents(17, 18, 3)), 'a hole after the snapshot');
      await append(s, ents(16, 18, 3));
      checkEntries(await s.entries(16, 18), ents(16, 18, 3), 'appending after the snapshot');
    },
  ],
  [
    'a snapshot sets the conf state unless the write gives one',
    async ({ storage: s }) => {
      await s.save({ entries: [], confState: CONF_JOINT }, true);
      await s.save({ snapshot: snap(3, 1, CONF_A), entries: [] }, true);
      await checkState(s, { confState: CONF_A }, 'snapshot without confState');
      await s.save({ snapshot: snap(5, 1, CONF_A), entries: [], confState: CONF_JOINT }, true);
      await checkState(s, { confState: CONF_JOINT }, 'snapshot with an explicit confState');
    },
  ],
  [
    'entries and term below the snapshot index are Compacted',
    async ({ storage: s }) => {
      await append(s, ents(1, 11, 1));
      await s.save({ snapshot: snap(6, 1), entries: [] }, true);
      await checkRejects(s.entries(6, 8), 'entries(6, 8)', 'Compacted');
      await checkRejects(s.entries(1, 11), 'entries(1, 11)', 'Compacted');
      await checkRejects(s.entries(2, 2), 'entries(2, 2)', 'Compacted');
      await checkRejects(s.term(5), 'term(5)', 'Compacted');
      await checkRejects(s.term(0), 'term(0)', 'Compacted');
      checkEqual(await s.term(6), 1, 'term(6) at the snapshot index');
      checkEntries(await s.entries(7, 7), [], 'entries(7, 7)');
      checkEntries(await s.entries(7, 9), ents(7, 9, 1), 'entries(7, 9)');
    },
  ],
  [
    'an older snapshot is rejected; a newer one replaces it',
    async ({ storage: s }) => {
      await append(s, ents(1, 11, 1));
      const s6 = snap(6, 1, CONF_A, 100);
      await s.save({ snapshot: s6, entries: [] }, true);
      await checkRejects(
        s.save({ snapshot: snap(4, 1), entries: [] }, true),
        'a snapshot at 4 after 6',
      );
      await checkAll(
        s,
        { snapshot: s6.meta, firstIndex: 7, lastIndex: 10 },
        ents(7, 11, 1),
        s6,
        'after rejecting',
      );
      const s8 = snap(8, 1, CONF_JOINT, 10);
      await s.save({ snapshot: s8, entries: [] }, true);
      await checkAll(
        s,
        { snapshot: s8.meta, firstIndex: 9, lastIndex: 10 },
        ents(9, 11, 1),
        s8,
        'after a snapshot at 8',
      );
    },
  ],
  [
    'entries of a write that the snapshot already covers are skipped',
    async ({ storage: s }) => {
      await s.save({ snapshot: snap(5, 2), entries: [] }, true);
      await append(s, ents(3, 9, 2));
      await checkState(s, { firstIndex: 6, lastIndex: 8 }, 'after overlapping entries');
      checkEntries(await s.entries(6, 9), ents(6, 9, 2), 'entries after the snapshot');
      await append(s, ents(2, 5, 2));
      await checkState(s, { firstIndex: 6, lastIndex: 8 }, 'a write entirely behind the snapshot');
      checkEntries(await s.entries(6, 9), ents(6, 9, 2), 'entries unchanged');
    },
  ],
  [
    'compact behind the snapshot keeps the snapshot term and later entries',
    async ({ storage: s }) => {
      await s.compact(0);
      await checkRejects(s.compact(1), 'compact(1) without a snapshot');
      await append(s, ents(1, 11, 1));
      await checkRejects(s.compact(3), 'compact(3) without a snapshot');
      await s.save({ snapshot: snap(6, 1), entries: [] }, true);
      await s.compact(3);
      await s.compact(6);
      await checkRejects(s.compact(7), 'compact(7) beyond the snapshot at 6');
      await checkState(s, { firstIndex: 7, lastIndex: 10 }, 'after compact(6)');
      checkEqual(await s.term(6), 1, 'term(6) after compact(6)');
      checkEntries(await s.entries(7, 11), ents(7, 11, 1), 'entries after compact(6)');
      await checkRejects(s.entries(6, 7), 'entries(6, 7) after compact(6)', 'Compacted');
    },
  ],
  [
    'save copies the caller’s buffers',
    async ({ storage: s }) => {
      const e = ents(1, 2, 1, 16)[0]!;
      const data = new Uint8Array(e.data);
      await append(s, [{ ...e, data }]);
      data.fill(0xee);
      checkEntries(await s.entries(1, 2), [e], 'entry after the caller mutated its buffer');
      const sn = snap(1, 1);
      const snapData = new Uint8Array(sn.data);
      await s.save({ snapshot: { meta: sn.meta, data: snapData }, entries: [] }, true);
      snapData.fill(0xee);
      checkEqual(
        (await s.snapshot())?.data,
        sn.data,
        'snapshot after the caller mutated its buffer',
      );
    },
  ],
  [
    'writes without sync are readable at once',
    async ({ storage: s }) => {
      const h: HardState = { term: 1, vote: null, commit: 3 };
      await s.save({ entries: ents(1, 4, 1) }, false);
      await s.save({ entries: [], hardState: h }, false);
      await checkState(s, { hardState: h, lastIndex: 3 }, 'after unsynced writes');
      checkEntries(await s.entries(1, 4), ents(1, 4, 1), 'entries after unsynced writes');
    },
  ],
  [
    'large writes round-trip and can be paged through with maxBytes',
    async ({ storage: s }) => {
      const log: Entry[] = [];
      for (let i = 1; i <= 3000; i++)
        log.push({ index: i, term: 1 + (i >> 10), type: 0, data: payload(i, 1, (i * 37) % 301) });
      await append(s, log.slice(0, 2500));
      await append(s, log.slice(2500));
      checkEntries(await s.entries(1, 3001), log, 'the whole log');
      checkEntries(await s.entries(1, 3001, 1e9), log, 'the whole log with a large maxBytes');
      checkEntries(
        await s.entries(2, 2999, 1e9),
        log.slice(1, 2998),
        'most of the log with a large maxBytes',
      );
      const paged: Entry[] = [];
      let next = 1;
      while (next <= 3000) {
        const page = await s.entries(next, 3001, 4096);
        check(page.length > 0, `entries(${next}, 3001, 4096) returned nothing`);
        const size = page.reduce((n, e) => n + e.data.byteLength, 0);
        check(
          page.length === 1 || size <= 4096,
          `a page of ${page.length} entries has ${size} bytes`,
        );
        const more = log[next - 1 + page.length];
        check(
          more === undefined || size + more.data.byteLength > 4096,
          `page at ${next} stopped early`,
        );
        paged.push(...page);
        next += page.length;
      }
      checkEntries(paged, log, 'paged log');
    },
  ],
  [
    'a new storage is still empty after reopen',
    async (ctx) => {
      const s = await ctx.reopen();
      await checkState(
        s,
        {
          hardState: EMPTY_HARD_STATE,
          confState: EMPTY_CONF_STATE,
          snapshot: null,
          firstIndex: 1,
          lastIndex: 0,
        },
        'reopened new storage',
      );
      await append(s, ents(1, 3, 1));
      checkEntries(await s.entries(1, 3), ents(1, 3, 1), 'append after reopen');
    },
  ],
  [
    'everything saved survives reopen',
    async (ctx) => {
      let s = ctx.storage;
      const h: HardState = { term: 5, vote: 'n3', commit: 9 };
      await s.save({ entries: ents(1, 13, 1), confState: CONF_A }, true);
      await append(s, ents(10, 12, 2), { hardState: h });
      s = await ctx.reopen();
      const log = [...ents(1, 10, 1), ...ents(10, 12, 2)];
      await checkAll(
        s,
        { hardState: h, confState: CONF_A, snapshot: null, firstIndex: 1, lastIndex: 11 },
        log,
        null,
        'after reopen',
      );
      const sn = snap(7, 1, CONF_JOINT, 5000);
      await s.save({ snapshot: sn, entries: ents(12, 14, 5) }, false);
      await s.compact(7);
      s = await ctx.reopen();
      const st = {
        hardState: h,
        confState: CONF_JOINT,
        snapshot: sn.meta,
        firstIndex: 8,
        lastIndex: 13,
      };
      const log2 = [...log.slice(7), ...ents(12, 14, 5)];
      await checkAll(s, st, log2, sn, 'after snapshot and reopen');
      await checkRejects(s.entries(7, 9), 'entries(7, 9) after reopen', 'Compacted');
      s = await ctx.reopen();
      await checkAll(s, st, log2, sn, 'after a second reopen');
    },
  ],
  [
    'a truncated suffix stays truncated after reopen',
    async (ctx) => {
      let s = ctx.storage;
      await append(s, ents(1, 21, 1));
      await append(s, ents(5, 6, 2));
      s = await ctx.reopen();
      await checkState(s, { firstIndex: 1, lastIndex: 5 }, 'after truncation and reopen');
      checkEntries(
        await s.entries(1, 6),
        [...ents(1, 5, 1), ...ents(5, 6, 2)],
        'entries after reopen',
      );
      await checkRejects(s.term(6), 'term(6) after reopen');
    },
  ],
  [
    'a conflicting snapshot’s discarded log stays discarded after reopen',
    async (ctx) => {
      let s = ctx.storage;
      await append(s, ents(1, 21, 1));
      const sn = snap(10, 3, CONF_A, 0);
      await s.save({ snapshot: sn, entries: [] }, true);
      s = await ctx.reopen();
      await checkAll(
        s,
        { snapshot: sn.meta, firstIndex: 11, lastIndex: 10 },
        [],
        sn,
        'after reopen',
      );
      await append(s, ents(11, 12, 3));
      s = await ctx.reopen();
      await checkAll(
        s,
        { snapshot: sn.meta, firstIndex: 11, lastIndex: 11 },
        ents(11, 12, 3),
        sn,
        'after append and reopen',
      );
    },
  ],
  [
    'large snapshots round-trip across reopen',
    async (ctx) => {
      let s = ctx.storage;
      const sn = snap(100, 7, CONF_A, 3 * 1024 * 1024 + 17);
      await s.save({ snapshot: sn, entries: ents(101, 103, 7) }, true);
      s = await ctx.reopen();
      await checkAll(
        s,
        { snapshot: sn.meta, firstIndex: 101, lastIndex: 102 },
        ents(101, 103, 7),
        sn,
        'after reopen',
      );
      const small = snap(101, 7, CONF_A, 1);
      await s.save({ snapshot: small, entries: [] }, true);
      s = await ctx.reopen();
      await checkAll(
        s,
        { snapshot: small.meta, firstIndex: 102, lastIndex: 102 },
        ents(102, 103, 7),
        small,
        'smaller snapshot',
      );
    },
  ],
];
