import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Entry, Snapshot } from 'raft-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SqliteLogStorage,
  type SqliteLogStorageOptions,
  SqliteStorageError,
} from '../src/index.js';
import { mulberry32 } from './support/crash-protocol.js';
import { equal } from './support/equal.js';
import { openOn, THREADS, type Thread } from './support/modes.js';
import { CONF_STATES, makeEntries } from './support/payload.js';
import { expectStorageError } from './support/storage-errors.js';
import { TempDirs } from './support/temp-dirs.js';

/**
 * Damaged files: truncation, flipped bits in entries, state and snapshot chunks, missing rows.
 * Opening or reading must fail with a typed SqliteStorageError — never return wrong data.
 *
 * FLIP_SEED=<n> replays the random bit-flip sweep.
 */

const FLIP_SEED = process.env.FLIP_SEED === undefined ? 777 : Number(process.env.FLIP_SEED);

const ACCEPTED = new Set(['Corrupt', 'NotRaftDatabase', 'SchemaTooNew', 'IdentityMismatch']);

const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

const marker = (tag: string) => Buffer.from(`<<${tag}>>`.padEnd(64, '#'));

/** Entries 1..n; entry `k` in `marked` carries a unique marker payload. */
function logWithMarkers(n: number, marked: number[]): Entry[] {
  return makeEntries(1, n, 1, 9, 100).map((e) =>
    marked.includes(e.index) ? { ...e, data: new Uint8Array(marker(`entry-${e.index}`)) } : e,
  );
}

function snapshotWithMarker(): Snapshot {
  const data = Buffer.alloc(50_000, 's');
  marker('snapshot').copy(data, 30_000);
  return { meta: { index: 10, term: 1, confState: CONF_STATES[1]! }, data: new Uint8Array(data) };
}

interface Fixture {
  readonly options: SqliteLogStorageOptions;
  readonly path: string;
  readonly log: Entry[];
  readonly snapshot: Snapshot;
}

/**
 * A closed database: snapshot at 10, entries 11..n, a hard state with a marker vote. The entries
 * after the first `perSave` are saved `perSave` at a time (each save stores its own rows).
 */
async function fixture(n = 2000, marked: number[] = [], perSave = n): Promise<Fixture> {
  const dir = await dirs.make();
  const options: SqliteLogStorageOptions = {
    path: join(dir, 'raft.db'),
    clusterId: 'c',
    nodeId: 'n1',
    tailCacheEntries: 0,
  };
  const s = await SqliteLogStorage.open(options);
  const log = logWithMarkers(n, marked);
  const snapshot = snapshotWithMarker();
  await s.save({ entries: log.slice(0, 10) }, true);
  await s.save(
    {
      snapshot,
      entries: log.slice(10, 10 + perSave),
      hardState: { term: 1, vote: `${'<<vote>>'.padEnd(40, '#')}`, commit: 10 },
    },
    true,
  );
  for (let i = 10 + perSave; i < log.length; i += perSave)
    await s.save({ entries: log.slice(i, i + perSave) }, true);
  await s.compact(10);
  await s.close();
  return { options, path: options.path, log: log.slice(10), snapshot };
}

/** Flip one bit `offset` bytes into every on-disk copy of `needle`; returns how many were flipped. */
function flipEvery(path: string, needle: Buffer, offset = 20): number {
  const file = readFileSync(path);
  let n = 0;
  for (let at = file.indexOf(needle); at >= 0; at = file.indexOf(needle, at + 1)) {
    file[at + offset]! ^= 0x04;
    n++;
  }
  writeFileSync(path, file);
  return n;
}

/** Everything observable through the port, or the error that stopped reading it. */
async function readAll(thread: Thread, options: SqliteLogStorageOptions) {
  const s = await openOn(thread, options);
  try {
    const st = await s.initialState();
    return {
      state: st,
      entries: await s.entries(st.firstIndex, st.lastIndex + 1),
      snapshot: await s.snapshot(),
    };
  } finally {
    await s.close();
  }
}

async function expected(f: Fixture) {
  return readAll('main', { ...f.options, path: `${f.path}.pristine` });
}

// Every damage is detected on either thread: the worker's errors reach the caller as the same
// SqliteStorageError reasons.
describe.each(THREADS)('damaged databases (%s thread)', (thread) => {
  const open = (options: SqliteLogStorageOptions) => openOn(thread, options);

  it('a flipped bit in a recent entry fails the open', async () => {
    const f = await fixture(300, [290]);
    expect(flipEvery(f.path, marker('entry-290'))).toBeGreaterThan(0);
    const e = await expectStorageError(open(f.options), 'Corrupt');
    expect(e.message).toContain('entry 290');
  });

  it('a flipped bit in an old entry fails every read covering it and a full verification', async () => {
    const f = await fixture(2000, [100]);
    expect(flipEvery(f.path, marker('entry-100'))).toBeGreaterThan(0);
    const s = await open(f.options);
    try {
      await expectStorageError(s.entries(11, 2001), 'Corrupt');
      await expectStorageError(s.entries(100, 105, 1), 'Corrupt');
      expect(equal(await s.entries(95, 105, 1), f.log.slice(84, 85))).toBe(true);
      await expectStorageError(s.entries(100, 101), 'Corrupt');
      await expectStorageError(s.term(100), 'Corrupt');
      expect(equal(await s.entries(101, 2001), f.log.slice(90))).toBe(true);
      expect(equal(await s.entries(11, 100), f.log.slice(0, 89))).toBe(true);
    } finally {
      await s.close();
    }
    await expectStorageError(open({ ...f.options, verify: 'full' }), 'Corrupt');
  });

  it('a flipped bit in the hard state fails the open', async () => {
    const f = await fixture(100);
    expect(flipEvery(f.path, Buffer.from('<<vote>>'), 3)).toBeGreaterThan(0);
    const e = await expectStorageError(open(f.options), 'Corrupt');
    expect(e.message).toContain('"hard"');
  });

  it('a flipped bit in the snapshot data fails snapshot() and a full verification', async () => {
    const f = await fixture(100);
    expect(flipEvery(f.path, marker('snapshot'))).toBeGreaterThan(0);
    const s = await open(f.options);
    try {
      expect((await s.initialState()).snapshot).toEqual(f.snapshot.meta);
      await expectStorageError(s.snapshot(), 'Corrupt');
    } finally {
      await s.close();
    }
    await expectStorageError(open({ ...f.options, verify: 'full' }), 'Corrupt');
  });

  it('a missing row is a hole: reads across it fail, and a missing first entry fails the open', async () => {
    const f = await fixture(500, [], 10);
    /** Deletes the row holding entry `idx`; returns the first entry it held. */
    const del = (idx: number): number => {
      const db = new Database(f.path);
      const [first] = db
        .prepare('SELECT first FROM log_run WHERE first <= ? AND last >= ?')
        .raw()
        .get(idx, idx) as [number];
      db.prepare('DELETE FROM log_run WHERE first = ?').run(first);
      db.close();
      return first;
    };
    const hole = del(200);
    expect(hole).toBeLessThanOrEqual(200);
    expect(hole).toBeGreaterThan(11);
    const s = await open(f.options);
    try {
      const e = await expectStorageError(s.entries(11, 501), 'Corrupt');
      expect(e.message).toContain(`entry ${hole} is missing`);
      await expectStorageError(s.entries(150, 400, 1_000_000), 'Corrupt');
      await expectStorageError(s.term(200), 'Corrupt');
    } finally {
      await s.close();
    }
    del(11);
    await expectStorageError(open(f.options), 'Corrupt');
  });

  it('a truncated file fails with Corrupt at open or read, never with wrong data', async () => {
    const f = await fixture(3000);
    copyFileSync(f.path, `${f.path}.pristine`);
    const want = await expected(f);
    const size = statSync(f.path).size;
    const rnd = mulberry32(FLIP_SEED);
    const cuts = [0, 1, 50, 100, 4096, 8192, size >> 2, size >> 1, size - 4096, size - 1];
    for (let i = 0; i < 6; i++) cuts.push(Math.floor(rnd() * size));
    let failed = 0;
    for (const cut of cuts) {
      copyFileSync(`${f.path}.pristine`, f.path);
      truncateSync(f.path, cut);
      try {
        const got = await readAll(thread, f.options);
        expect(
          equal(got, want),
          `truncated to ${cut} bytes (seed ${FLIP_SEED}): returned different data`,
        ).toBe(true);
      } catch (e) {
        expect(
          SqliteStorageError.isInstance(e) && e.reason,
          `truncated to ${cut}: ${String(e)}`,
        ).toBe('Corrupt');
        failed++;
      }
    }
    expect(failed).toBeGreaterThanOrEqual(10);
  });

  it('random bit flips anywhere in the file never produce wrong data', async () => {
    const f = await fixture(1500, [700]);
    copyFileSync(f.path, `${f.path}.pristine`);
    const want = await expected(f);
    const pristine = readFileSync(`${f.path}.pristine`);
    const rnd = mulberry32(FLIP_SEED);
    const reasons = new Map<string, number>();
    // Each worker-thread open starts a thread (a few hundred ms from sources): fewer flips there,
    // enough to see its errors arrive with the same reasons.
    for (let i = 0; i < (thread === 'main' ? 40 : 8); i++) {
      const file = Buffer.from(pristine);
      const at = Math.floor(rnd() * file.length);
      const bit = 1 << Math.floor(rnd() * 8);
      file[at]! ^= bit;
      writeFileSync(f.path, file);
      const what = `flip of bit ${bit} at byte ${at} (FLIP_SEED=${FLIP_SEED} pnpm vitest run --project raft-storage-sqlite corruption)`;
      try {
        for (const verify of ['tail', 'full'] as const) {
          const got = await readAll(thread, { ...f.options, verify });
          expect(equal(got, want), `${what}: returned different data`).toBe(true);
        }
        reasons.set('unaffected', (reasons.get('unaffected') ?? 0) + 1);
      } catch (e) {
        // A flip in the header or the meta table may also hit the application id, the schema
        // version or the node id; anything else (Io) would be a misclassified corruption.
        if (!(SqliteStorageError.isInstance(e) && ACCEPTED.has(e.reason))) {
          throw new Error(`${what}: unexpected error ${String(e)}`, { cause: e });
        }
        reasons.set(e.reason, (reasons.get(e.reason) ?? 0) + 1);
      }
    }
    expect(reasons.get('Corrupt') ?? 0).toBeGreaterThan(0);
  });
});
