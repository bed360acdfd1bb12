import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { ConfState, Snapshot } from 'raft-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SqliteLogStorageOptions } from '../src/index.js';
import { type AnySqliteStorage, openOn, THREADS, type Thread } from './support/modes.js';
import { makeEntries } from './support/payload.js';
import { TempDirs } from './support/temp-dirs.js';

const dirs = new TempDirs();
const open: AnySqliteStorage[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

const conf: ConfState = {
  voters: ['n1'],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

/** A snapshot at `index` whose data (`bytes` long) is derived from `seed`. */
function snap(index: number, bytes: number, seed: number): Snapshot {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 31 + seed) & 0xff;
  return { meta: { index, term: 1, confState: conf }, data };
}

async function fresh(): Promise<SqliteLogStorageOptions> {
  const dir = await dirs.make();
  // Tiny chunks: a snapshot spans many rows (and many staging turns).
  return { path: join(dir, 'raft.db'), clusterId: 'c1', nodeId: 'n1', snapshotChunkBytes: 1000 };
}

let thread: Thread = 'main';

async function openTracked(options: SqliteLogStorageOptions): Promise<AnySqliteStorage> {
  const s = await openOn(thread, options);
  open.push(s);
  return s;
}

function snapshotFiles(path: string): string[] {
  return readdirSync(dirname(path)).filter((n) => n.startsWith(`${basename(path)}-snap-`));
}

function chunkRows(path: string): number {
  const db = new Database(path);
  try {
    return db.prepare('SELECT count(*) FROM snapshot_chunk').pluck().get() as number;
  } finally {
    db.close();
  }
}

// On the worker thread, the save must find the staged data by the caller's object although
// the data crossed the thread boundary as a copy.
describe.each(THREADS)('stageSnapshot (%s thread)', (t) => {
  beforeAll(() => {
    thread = t;
  });

  it('writes the data ahead; the save that follows installs it, also across a reopen', async () => {
    const options = await fresh();
    const s = await openTracked(options);
    await s.save({ entries: makeEntries(1, 100, 1, 1, 20) }, true);
    const old = snap(50, 10_500, 1);
    await s.save({ snapshot: old, entries: [] }, true);
    const next = snap(90, 25_000, 2);
    // Log saves go on while the snapshot is staged.
    const staging = s.stageSnapshot(next);
    await s.save({ entries: makeEntries(101, 10, 1, 1, 20) }, true);
    await staging;
    expect((await s.snapshot())?.meta.index, 'not in force before the save').toBe(50);
    await s.save({ snapshot: next, entries: [] }, true);
    expect(await s.snapshot()).toEqual(next);
    expect(await s.initialState()).toMatchObject({ firstIndex: 91, lastIndex: 110 });
    await s.close();
    const again = await openTracked(options);
    expect(await again.snapshot()).toEqual(next);
    expect((await again.entries(91, 111)).map((e) => e.index)).toEqual(
      Array.from({ length: 20 }, (_, i) => 91 + i),
    );
    await again.close();
    expect(chunkRows(options.path), 'the replaced snapshot (in rows) was deleted').toBe(0);
    expect(snapshotFiles(options.path)).toHaveLength(1);
  });

  it('replacing a staged snapshot by another deletes the old file', async () => {
    const options = await fresh();
    const s = await openTracked(options);
    await s.save({ entries: makeEntries(1, 50, 1, 1, 20) }, true);
    const a = snap(20, 4_000, 8);
    await s.stageSnapshot(a);
    await s.save({ snapshot: a, entries: [] }, true);
    const b = snap(40, 6_000, 9);
    await s.stageSnapshot(b);
    await s.save({ snapshot: b, entries: [] }, true);
    await s.close();
    expect(snapshotFiles(options.path)).toHaveLength(1);
    const again = await openTracked(options);
    expect(await again.snapshot()).toEqual(b);
  });

  it('a damaged snapshot file fails snapshot() with Corrupt, never wrong data', async () => {
    const options = await fresh();
    const s = await openTracked(options);
    await s.save({ entries: makeEntries(1, 50, 1, 1, 20) }, true);
    const a = snap(20, 4_000, 10);
    await s.stageSnapshot(a);
    await s.save({ snapshot: a, entries: [] }, true);
    await s.close();
    const [name] = snapshotFiles(options.path);
    const file = join(dirname(options.path), name as string);
    const bytes = readFileSync(file);
    bytes[1234] = (bytes[1234] as number) ^ 0x10;
    writeFileSync(file, bytes);
    const again = await openTracked(options);
    await expect(again.snapshot()).rejects.toThrow(/checksum/);
  });

  it('a stage that is never installed is not part of the state and is deleted at the next open', async () => {
    const options = await fresh();
    const s = await openTracked(options);
    await s.save({ entries: makeEntries(1, 20, 1, 1, 20) }, true);
    const first = snap(10, 3_000, 3);
    await s.save({ snapshot: first, entries: [] }, true);
    await s.stageSnapshot(snap(20, 7_000, 4));
    await s.close();
    expect(snapshotFiles(options.path)).toHaveLength(1);
    const again = await openTracked(options);
    expect(await again.snapshot()).toEqual(first);
    await again.close();
    expect(chunkRows(options.path)).toBe(3);
    expect(snapshotFiles(options.path)).toHaveLength(0);
  });

  it('a newer snapshot saved while one is staged wins; a later stage still installs', async () => {
    const options = await fresh();
    const s = await openTracked(options);
    await s.save({ entries: makeEntries(1, 40, 1, 1, 20) }, true);
    const staged = snap(20, 5_000, 5);
    await s.stageSnapshot(staged);
    // A newer snapshot (say, from the leader) is installed first.
    const newer = snap(30, 4_000, 6);
    await s.save({ snapshot: newer, entries: [] }, true);
    await s.close();
    const again = await openTracked(options);
    expect(await again.snapshot()).toEqual(newer);
    // Saving the stale staged snapshot now (an older index) is rejected as any older snapshot is.
    await expect(again.save({ snapshot: staged, entries: [] }, true)).rejects.toThrow(/older/);
    const later = snap(35, 6_000, 7);
    await again.stageSnapshot(later);
    await again.save({ snapshot: later, entries: [] }, true);
    expect(await again.snapshot()).toEqual(later);
  });
});
