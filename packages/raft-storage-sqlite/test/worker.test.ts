import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RaftError, type Snapshot } from 'raft-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  SqliteLogStorage,
  type SqliteLogStorageOptions,
  SqliteStorageError,
  SqliteWorkerLogStorage,
} from '../src/index.js';
import { equal } from './support/equal.js';
import { openOn, type Thread } from './support/modes.js';
import { CONF_STATES, makeEntries } from './support/payload.js';
import { expectStorageError } from './support/storage-errors.js';
import { TempDirs } from './support/temp-dirs.js';

/**
 * What is particular to SqliteWorkerLogStorage (the port's contract, corruption, crashes and
 * staging run on both threads in the other test files): the main thread never touches SQLite,
 * a dying worker fails every call with a definite error, errors keep their types across the
 * thread boundary, and close ends the thread.
 */

const dirs = new TempDirs();
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(open.splice(0).map((s) => s.close().catch(() => {})));
  await dirs.removeAll();
});

async function options(): Promise<SqliteLogStorageOptions> {
  return { path: join(await dirs.make(), 'raft.db'), clusterId: 'c1', nodeId: 'n1' };
}

async function track<T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> {
  const s = await p;
  open.push(s);
  return s;
}

/** Counts every call of better-sqlite3's Database methods made on this (the main) thread. */
function spyOnSqlite(): () => number {
  const proto = Database.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const spies = ['prepare', 'exec', 'pragma', 'transaction', 'close'].map((m) =>
    vi.spyOn(proto, m as never),
  );
  return () => spies.reduce((n, s) => n + s.mock.calls.length, 0);
}

/** A workload touching every method: a large save, reads, a snapshot staged and installed. */
async function workload(thread: Thread): Promise<void> {
  const s = await openOn(thread, await options());
  const log = makeEntries(1, 20_000, 1, 5, 100);
  await s.save({ entries: log, hardState: { term: 1, vote: 'n1', commit: 0 } }, true);
  expect(equal(await s.entries(1, 20_001), log)).toBe(true);
  expect(await s.term(10_000)).toBe(1);
  const snapshot: Snapshot = {
    meta: { index: 15_000, term: 1, confState: CONF_STATES[1]! },
    data: new Uint8Array(3 * 1024 * 1024 + 17).fill(9),
  };
  await s.stageSnapshot(snapshot);
  await s.save({ snapshot, entries: [] }, true);
  await s.compact(15_000);
  expect(equal(await s.snapshot(), snapshot)).toBe(true);
  expect((await s.initialState()).firstIndex).toBe(15_001);
  await s.close();
}

describe('SqliteWorkerLogStorage', () => {
  it('runs no SQLite statement on the main thread (the main thread holds no database)', async () => {
    // Control: the same workload on the main thread does call into better-sqlite3, so the spy
    // sees calls when there are any.
    let count = spyOnSqlite();
    await workload('main');
    expect(count()).toBeGreaterThan(0);
    vi.restoreAllMocks();
    count = spyOnSqlite();
    await workload('worker');
    expect(count()).toBe(0);
  });

  it('rejects every pending call with Failed when the worker dies, and every later call too', async () => {
    const o = await options();
    const s = await track(SqliteWorkerLogStorage.open(o));
    await s.save({ entries: makeEntries(1, 10, 1, 1) }, true);
    const pending = [
      s.save({ entries: makeEntries(11, 50_000, 1, 2, 100) }, true),
      s.entries(1, 11),
      s.term(5),
      s.initialState(),
      s.snapshot(),
    ];
    const settled = Promise.allSettled(pending);
    await s._terminateWorker();
    for (const r of await settled) {
      const e = r.status === 'rejected' ? r.reason : undefined;
      expect(SqliteStorageError.isInstance(e) && e.reason, String(e)).toBe('Failed');
      expect(String(e)).toContain('worker thread exited');
    }
    await expectStorageError(s.initialState(), 'Failed');
    await expectStorageError(s.save({ entries: makeEntries(11, 1, 1, 3) }, true), 'Failed');
    await s.close();
    // The database is intact and unlocked: what was acknowledged is there.
    const again = await track(SqliteLogStorage.open(o));
    const st = await again.initialState();
    expect(st.lastIndex === 10 || st.lastIndex === 50_010, `lastIndex ${st.lastIndex}`).toBe(true);
    expect(equal(await again.entries(1, 11), makeEntries(1, 10, 1, 1))).toBe(true);
  });

  it("keeps the errors' types and reasons across the thread boundary", async () => {
    const o = await options();
    const s = await track(SqliteWorkerLogStorage.open(o));
    await expectStorageError(SqliteLogStorage.open(o), 'Locked');
    await expectStorageError(SqliteWorkerLogStorage.open(o), 'Locked');
    await s.save({ entries: makeEntries(1, 5, 1, 1) }, true);
    for (const [p, code] of [
      [s.entries(1, 9), 'Unavailable'],
      [s.term(7), 'Unavailable'],
      [s.entries(3, 2), 'InvalidArgument'],
      [s.compact(3), 'InvalidArgument'],
      [s.save({ entries: makeEntries(9, 1, 1, 1) }, true), 'InvalidArgument'],
    ] as const) {
      const e = await (p as Promise<unknown>).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(RaftError.isInstance(e) && e.code, String(e)).toBe(code);
    }
    await expectStorageError(
      SqliteWorkerLogStorage.open({ ...o, path: join(await dirs.make(), 'x.db'), create: false }),
      'NotFound',
    );
    const bad = await SqliteWorkerLogStorage.open({ ...o, clusterId: '' }).catch((x: unknown) => x);
    expect(RaftError.isInstance(bad) && bad.code).toBe('InvalidArgument');
  });

  it('a save whose staged snapshot a newer stage replaced meanwhile sends the data itself', async () => {
    const s = await track(SqliteWorkerLogStorage.open(await options()));
    await s.save({ entries: makeEntries(1, 40, 1, 1) }, true);
    const snap = (index: number, fill: number): Snapshot => ({
      meta: { index, term: 1, confState: CONF_STATES[0]! },
      data: new Uint8Array(10_000).fill(fill),
    });
    // Stage a, start staging b, and keep this thread busy until the worker has surely finished
    // b (its reply waits in the queue), then save a: this thread still believes a is staged, the
    // worker has replaced it by b. Longer waits until the race is hit (it is, almost always, at once).
    for (let wait = 200; s._restagedSaves === 0 && wait <= 3200; wait *= 2) {
      const a = snap(10, 1);
      await s.stageSnapshot(a);
      const b = s.stageSnapshot(snap(20, 2));
      // A few microtasks (no macrotask: no reply is handled) until b's request is posted.
      for (let i = 0; i < 10; i++) await Promise.resolve();
      const until = performance.now() + wait;
      while (performance.now() < until) {
        // busy: no turn of the event loop
      }
      await s.save({ snapshot: a, entries: [] }, true);
      await b;
      expect(equal(await s.snapshot(), a)).toBe(true);
    }
    expect(s._restagedSaves).toBeGreaterThan(0);
  });

  it('close ends the worker, settles every call and is idempotent', async () => {
    const o = await options();
    const s = await SqliteWorkerLogStorage.open(o);
    const save = s.save({ entries: makeEntries(1, 1000, 1, 1) }, true).then(
      () => 'committed',
      (e: unknown) => e,
    );
    const closing = s.close();
    expect(s.close()).toBe(closing);
    await closing;
    // The save was sent before close: it either committed or failed with Closed.
    const outcome = await save;
    if (outcome !== 'committed') {
      expect(SqliteStorageError.isInstance(outcome) && outcome.reason, String(outcome)).toBe(
        'Closed',
      );
    }
    await expectStorageError(s.initialState(), 'Closed');
    await expectStorageError(
      s.stageSnapshot({ meta: CONF_SNAP, data: new Uint8Array(1) }),
      'Closed',
    );
    // The database is released: it opens again at once, on either thread.
    await (await SqliteLogStorage.open(o)).close();
    await (await SqliteWorkerLogStorage.open(o)).close();
  });
});

const CONF_SNAP = { index: 1, term: 1, confState: CONF_STATES[0]! };
