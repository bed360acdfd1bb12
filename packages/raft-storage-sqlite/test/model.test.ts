import { join } from 'node:path';
import fc from 'fast-check';
import { type LogStorage, RaftError, type StorageWrite } from 'raft-core';
import { afterAll, it } from 'vitest';
import { SqliteLogStorage, type SqliteLogStorageOptions } from '../src/index.js';
import { MemoryLogStorage } from './support/core-testing.js';
import { expectEqual } from './support/equal.js';
import { bytesFor, CONF_STATES, makeEntries } from './support/payload.js';
import { TempDirs } from './support/temp-dirs.js';

/**
 * Model-based test: random sequences of appends (with conflicts and holes), hard state writes,
 * snapshots (matching, conflicting, stale), compactions, reads and reopens run against
 * SqliteLogStorage and against MemoryLogStorage (the model); every outcome and the whole
 * observable state must agree after every step.
 *
 * FC_SEED=<n> replays a seed, FC_RUNS=<n> changes the number of runs.
 */

const SEED = process.env.FC_SEED === undefined ? 20_240_601 : Number(process.env.FC_SEED);
const RUNS = process.env.FC_RUNS === undefined ? 100 : Number(process.env.FC_RUNS);

const dirs = new TempDirs();
afterAll(() => dirs.removeAll());

interface Model {
  readonly mem: MemoryLogStorage;
}
interface Real {
  store: LogStorage;
  reopen(): Promise<void>;
}
type Cmd = fc.AsyncCommand<Model, Real>;

type Outcome = { ok: true; value: unknown } | { ok: false; error: string };

async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    // Only the port's own error codes may differ from success; anything else is a bug.
    if (RaftError.isInstance(e) && e.code !== 'Storage') return { ok: false, error: e.code };
    throw e;
  }
}

async function same(what: string, model: Promise<unknown>, real: Promise<unknown>): Promise<void> {
  const [m, r] = [await outcome(model), await outcome(real)];
  expectEqual(r, m, what);
}

async function compareAll(m: Model, r: Real): Promise<void> {
  const st = await m.mem.initialState();
  expectEqual(await r.store.initialState(), st, 'initialState');
  await same(
    'all entries',
    m.mem.entries(st.firstIndex, st.lastIndex + 1),
    r.store.entries(st.firstIndex, st.lastIndex + 1),
  );
  await same(
    'term at the snapshot',
    m.mem.term(st.firstIndex - 1),
    r.store.term(st.firstIndex - 1),
  );
  await same('snapshot', m.mem.snapshot(), r.store.snapshot());
}

async function apply(m: Model, r: Real, write: StorageWrite, sync: boolean): Promise<void> {
  await same('save', m.mem.save(write, sync), r.store.save(write, sync));
  await compareAll(m, r);
}

const append = fc
  .record({
    kind: fc.constantFrom('at', 'at', 'at', 'at', 'gap', 'behind'),
    startFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    count: fc.integer({ min: 0, max: 30 }),
    termBump: fc.integer({ min: 0, max: 2 }),
    salt: fc.nat(),
    sync: fc.boolean(),
    hardState: fc.boolean(),
  })
  .map(
    (a): Cmd => ({
      check: () => true,
      run: async (m, r) => {
        const st = await m.mem.initialState();
        const start =
          a.kind === 'gap'
            ? st.lastIndex + 2
            : a.kind === 'behind'
              ? Math.max(1, st.firstIndex - 2)
              : st.firstIndex + Math.floor(a.startFrac * (st.lastIndex + 1 - st.firstIndex + 1));
        const term = st.hardState.term + a.termBump;
        const write: StorageWrite = {
          entries: makeEntries(start, a.count, term, a.salt),
          ...(a.hardState
            ? { hardState: { term, vote: a.salt % 2 ? 'n1' : null, commit: start - 1 } }
            : {}),
        };
        await apply(m, r, write, a.sync);
      },
      toString: () => `append(${JSON.stringify(a)})`,
    }),
  );

const snapshot = fc
  .record({
    idxFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    offset: fc.integer({ min: -1, max: 3 }),
    conflict: fc.boolean(),
    len: fc.integer({ min: 0, max: 2000 }),
    conf: fc.option(fc.nat({ max: CONF_STATES.length - 1 }), { nil: undefined }),
    snapConf: fc.nat({ max: CONF_STATES.length - 1 }),
    tail: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 })),
    sync: fc.boolean(),
  })
  .map(
    (a): Cmd => ({
      check: () => true,
      run: async (m, r) => {
        const st = await m.mem.initialState();
        const index =
          st.firstIndex - 1 + Math.floor(a.idxFrac * (st.lastIndex - st.firstIndex + 2)) + a.offset;
        let term = st.hardState.term + 1;
        if (index >= st.firstIndex - 1 && index <= st.lastIndex) {
          const t = await m.mem.term(index);
          term = a.conflict ? t + 1 : t;
        }
        const write: StorageWrite = {
          snapshot: {
            meta: { index, term, confState: CONF_STATES[a.snapConf]! },
            data: bytesFor(a.len, index, term),
          },
          entries: makeEntries(index + 1, a.tail, term, a.len),
          ...(a.conf === undefined ? {} : { confState: CONF_STATES[a.conf]! }),
        };
        await apply(m, r, write, a.sync);
      },
      toString: () => `snapshot(${JSON.stringify(a)})`,
    }),
  );

const hardState = fc
  .record({
    termBump: fc.integer({ min: 0, max: 2 }),
    vote: fc.option(fc.constantFrom('n1', 'n2')),
  })
  .map(
    (a): Cmd => ({
      check: () => true,
      run: async (m, r) => {
        const st = await m.mem.initialState();
        const h = { term: st.hardState.term + a.termBump, vote: a.vote, commit: st.lastIndex };
        await apply(m, r, { entries: [], hardState: h }, true);
      },
      toString: () => `hardState(${JSON.stringify(a)})`,
    }),
  );

const compact = fc
  .record({ frac: fc.double({ min: 0, max: 1, noNaN: true }), beyond: fc.boolean() })
  .map(
    (a): Cmd => ({
      check: () => true,
      run: async (m, r) => {
        const st = await m.mem.initialState();
        const index = a.beyond
          ? st.firstIndex + Math.floor(a.frac * 3)
          : Math.floor(a.frac * st.firstIndex);
        await same(`compact(${index})`, m.mem.compact(index), r.store.compact(index));
        await compareAll(m, r);
      },
      toString: () => `compact(${JSON.stringify(a)})`,
    }),
  );

const read = fc
  .record({
    mode: fc.constantFrom('random', 'exact', 'all'),
    lo: fc.double({ min: -0.2, max: 1.2, noNaN: true }),
    len: fc.integer({ min: -1, max: 40 }),
    maxBytes: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
    /** For 'exact': the limit is the size of the first `k` entries plus `delta`. */
    k: fc.integer({ min: 1, max: 40 }),
    delta: fc.integer({ min: -1, max: 1 }),
    termAt: fc.double({ min: -0.2, max: 1.2, noNaN: true }),
  })
  .map(
    (a): Cmd => ({
      check: () => true,
      run: async (m, r) => {
        const st = await m.mem.initialState();
        const span = st.lastIndex - st.firstIndex + 2;
        let lo = st.firstIndex + Math.floor(a.lo * span);
        let hi = lo + a.len;
        let maxBytes = a.maxBytes;
        if (a.mode === 'all') {
          [lo, hi] = [st.firstIndex, st.lastIndex + 1];
          maxBytes = a.maxBytes === undefined ? 1e9 : a.maxBytes * 10;
        } else if (a.mode === 'exact') {
          lo = Math.min(Math.max(lo, st.firstIndex), st.lastIndex + 1);
          hi = Math.min(Math.max(hi, lo), st.lastIndex + 1);
          const es = await m.mem.entries(lo, hi);
          maxBytes = es.slice(0, a.k).reduce((n, e) => n + e.data.byteLength, 0) + a.delta;
        }
        await same(
          `entries(${lo}, ${hi}, ${maxBytes})`,
          m.mem.entries(lo, hi, maxBytes),
          r.store.entries(lo, hi, maxBytes),
        );
        const t = st.firstIndex - 1 + Math.floor(a.termAt * span);
        await same(`term(${t})`, m.mem.term(t), r.store.term(t));
      },
      toString: () => `read(${JSON.stringify(a)})`,
    }),
  );

const reopen = fc.constant<Cmd>({
  check: () => true,
  run: async (m, r) => {
    await r.reopen();
    await compareAll(m, r);
  },
  toString: () => 'reopen',
});

const tuning = fc.record({
  tailCacheEntries: fc.constantFrom(0, 1, 3, 4096),
  tailCacheBytes: fc.constantFrom(50, 4 * 1024 * 1024),
  snapshotChunkBytes: fc.constantFrom(7, 256, 1024 * 1024),
  compactionBatchRows: fc.constantFrom(1, 7, 5000),
  // 1: a row per entry; 700: about four entries (of up to 300 B) per row, so that truncations
  // and snapshots land inside rows.
  logRunBytes: fc.constantFrom(1, 700, 64 * 1024),
});

it('SqliteLogStorage behaves like MemoryLogStorage under random operations', async () => {
  const property = fc.asyncProperty(
    tuning,
    fc.commands(
      [append, append, append, snapshot, snapshot, hardState, compact, read, read, reopen],
      {
        maxCommands: 50,
        size: '+1',
      },
    ),
    async (t, cmds) => {
      const dir = await dirs.make();
      const options: SqliteLogStorageOptions = {
        path: join(dir, 'raft.db'),
        clusterId: 'c',
        nodeId: 'n1',
        ...t,
      };
      const real: Real = {
        store: await SqliteLogStorage.open(options),
        async reopen() {
          await this.store.close();
          this.store = await SqliteLogStorage.open(options);
        },
      };
      try {
        await fc.asyncModelRun(() => ({ model: { mem: new MemoryLogStorage() }, real }), cmds);
      } finally {
        await real.store.close();
        await dirs.remove(dir);
      }
    },
  );
  try {
    await fc.assert(property, { seed: SEED, numRuns: RUNS });
  } catch (e) {
    const hint = `model test failed with seed ${SEED}; reproduce with: FC_SEED=${SEED} pnpm vitest run --project raft-storage-sqlite model`;
    console.error(hint);
    throw new Error(`${hint}\n${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
});
