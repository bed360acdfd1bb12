import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RaftError } from 'raft-core';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEntries, encodeState, plainHardState } from '../src/codec.js';
import {
  APPLICATION_ID,
  SCHEMA_VERSION,
  SqliteLogStorage,
  type SqliteLogStorageOptions,
} from '../src/index.js';
import { makeEntries } from './support/payload.js';
import { expectStorageError } from './support/storage-errors.js';
import { TempDirs } from './support/temp-dirs.js';

const dirs = new TempDirs();
const open: SqliteLogStorage[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

async function fresh(extra: Partial<SqliteLogStorageOptions> = {}) {
  const dir = await dirs.make();
  const options: SqliteLogStorageOptions = {
    path: join(dir, 'raft.db'),
    clusterId: 'c1',
    nodeId: 'n1',
    ...extra,
  };
  return { dir, options, path: options.path };
}

async function openTracked(options: SqliteLogStorageOptions): Promise<SqliteLogStorage> {
  const s = await SqliteLogStorage.open(options);
  open.push(s);
  return s;
}

/** Run `f` on the raw database (the storage must be closed). */
function raw<T>(path: string, f: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return f(db);
  } finally {
    db.close();
  }
}

describe('creating and opening', () => {
  it('creates the database atomically, with its identity and schema version', async () => {
    const { dir, path, options } = await fresh();
    const s = await SqliteLogStorage.open({ ...options, path: join(dir, 'sub', 'dir', 'raft.db') });
    await s.close();
    expect(readdirSync(join(dir, 'sub', 'dir'))).toEqual(['raft.db']);
    const s2 = await SqliteLogStorage.open(options);
    await s2.save({ entries: makeEntries(1, 3, 1, 0) }, true);
    await s2.close();
    expect(existsSync(`${path}-wal`), 'a clean close checkpoints and removes the WAL').toBe(false);
    raw(path, (db) => {
      expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const meta = Object.fromEntries(
        db.prepare('SELECT key, value FROM meta').raw().all() as Array<[string, string]>,
      );
      expect(meta).toMatchObject({ cluster_id: 'c1', node_id: 'n1' });
    });
  });

  it('migrates a schema-1 database (a row per entry) and keeps its log and state', async () => {
    const { options, path } = await fresh({ tailCacheEntries: 0 });
    const log = makeEntries(1, 20, 3, 0);
    const hard = { term: 3, vote: 'n2', commit: 15 };
    // What version 1 of this package wrote: the same records, one `log` row each.
    raw(path, (db) => {
      db.pragma('journal_mode = WAL');
      db.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT, WITHOUT ROWID;
        CREATE TABLE log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL) STRICT;
        CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL) STRICT;
        CREATE TABLE snapshot_chunk (seq INTEGER PRIMARY KEY, data BLOB NOT NULL, crc INTEGER NOT NULL) STRICT;
      `);
      const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      put.run('cluster_id', 'c1');
      put.run('node_id', 'n1');
      const { bytes, offsets } = encodeEntries(log, 0);
      const row = db.prepare('INSERT INTO log (idx, entry) VALUES (?, ?)');
      for (let i = 0; i < log.length; i++)
        row.run(i + 1, bytes.subarray(offsets[i], offsets[i + 1]));
      const st = encodeState('hard', plainHardState(hard));
      db.prepare('INSERT INTO state (key, value, crc) VALUES (?, ?, ?)').run(
        'hard',
        st.value,
        st.crc,
      );
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma('user_version = 1');
    });
    const s = await openTracked(options);
    expect(await s.initialState()).toMatchObject({ firstIndex: 1, lastIndex: 20, hardState: hard });
    expect(await s.entries(1, 21)).toEqual(log);
    expect(await s.term(7)).toBe(3);
    // The migrated rows take later writes: a conflicting suffix from 12, and appends after it.
    const tail = makeEntries(12, 5, 4, 1);
    await s.save({ entries: tail }, true);
    await s.close();
    const again = await openTracked(options);
    expect(await again.entries(1, 17)).toEqual([...log.slice(0, 11), ...tail]);
    await again.close();
    raw(path, (db) => {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const tables = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .pluck()
        .all();
      expect(tables.sort()).toEqual(['log_run', 'meta', 'snapshot_chunk', 'state']);
    });
  });

  it('removes leftovers of an interrupted creation', async () => {
    const { dir, options } = await fresh();
    writeFileSync(join(dir, 'raft.db.init-12345'), 'half-initialized');
    writeFileSync(join(dir, 'raft.db.init-12345-journal'), 'x');
    await (await SqliteLogStorage.open(options)).close();
    expect(readdirSync(dir)).toEqual(['raft.db']);
  });

  it('create: false refuses a missing database', async () => {
    const { options, path } = await fresh();
    await expectStorageError(SqliteLogStorage.open({ ...options, create: false }), 'NotFound');
    expect(existsSync(path)).toBe(false);
  });

  it('rejects empty cluster or node ids', async () => {
    const { options } = await fresh();
    for (const bad of [{ nodeId: '' }, { clusterId: '' }]) {
      const e = await SqliteLogStorage.open({ ...options, ...bad }).catch((x: unknown) => x);
      expect(RaftError.isInstance(e) && e.code).toBe('InvalidArgument');
    }
  });

  it('refuses a database of another node or another cluster, and leaves it intact', async () => {
    const { options } = await fresh();
    const s = await SqliteLogStorage.open(options);
    await s.save(
      { entries: makeEntries(1, 5, 1, 0), hardState: { term: 1, vote: 'n1', commit: 0 } },
      true,
    );
    await s.close();
    const e = await expectStorageError(
      SqliteLogStorage.open({ ...options, nodeId: 'n2' }),
      'IdentityMismatch',
    );
    expect(e.message).toContain('"n1"');
    await expectStorageError(
      SqliteLogStorage.open({ ...options, clusterId: 'c2' }),
      'IdentityMismatch',
    );
    const again = await openTracked(options);
    expect((await again.initialState()).lastIndex).toBe(5);
  });

  it('refuses a database written by a newer schema', async () => {
    const { options, path } = await fresh();
    await (await SqliteLogStorage.open(options)).close();
    raw(path, (db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`));
    await expectStorageError(SqliteLogStorage.open(options), 'SchemaTooNew');
  });

  it('refuses a database whose tables do not match the schema, or whose version is 0', async () => {
    const { options, path } = await fresh();
    await (await SqliteLogStorage.open(options)).close();
    raw(path, (db) => db.exec('ALTER TABLE state RENAME COLUMN value TO valu'));
    const e = await expectStorageError(SqliteLogStorage.open(options), 'Corrupt');
    expect(e.message).toContain('table state');
    raw(path, (db) => {
      db.exec('ALTER TABLE state RENAME COLUMN valu TO value');
      db.pragma('user_version = 0');
    });
    await expectStorageError(SqliteLogStorage.open(options), 'Corrupt');
  });

  it('refuses an SQLite database that raft-storage-sqlite did not create', async () => {
    const { options, path } = await fresh();
    raw(path, (db) => db.exec('CREATE TABLE t (x)'));
    await expectStorageError(SqliteLogStorage.open(options), 'NotRaftDatabase');
  });

  it('refuses a file that is not a database, an empty file, and a WAL without its database', async () => {
    const { options, path } = await fresh();
    writeFileSync(path, Buffer.alloc(8192, 'not a database '));
    await expectStorageError(SqliteLogStorage.open(options), 'Corrupt');
    writeFileSync(path, '');
    await expectStorageError(SqliteLogStorage.open(options), 'Corrupt');
    const other = await fresh();
    writeFileSync(`${other.path}-wal`, 'x');
    await expectStorageError(SqliteLogStorage.open(other.options), 'Corrupt');
    expect(existsSync(other.path), 'no database is created over an orphaned WAL').toBe(false);
  });

  it('allows one open at a time: a second open fails with Locked until the first closes', async () => {
    const { options } = await fresh();
    const first = await SqliteLogStorage.open(options);
    await first.save({ entries: makeEntries(1, 3, 1, 0) }, true);
    await expectStorageError(SqliteLogStorage.open(options), 'Locked');
    await first.close();
    const second = await openTracked(options);
    expect((await second.initialState()).lastIndex).toBe(3);
  });

  it('fails every call after close with Closed; close is idempotent', async () => {
    const { options } = await fresh();
    const s = await SqliteLogStorage.open(options);
    await s.close();
    await s.close();
    await expectStorageError(s.initialState(), 'Closed');
    await expectStorageError(s.entries(1, 1), 'Closed');
    await expectStorageError(s.save({ entries: makeEntries(1, 2, 1, 0) }, true), 'Closed');
  });

  it('checkpointPages bounds the WAL (default 128); a bad checkpointPages or logRunBytes is refused', async () => {
    /** Saves 4 MB in 10 KB saves; returns the WAL's size (it grows to what a checkpoint allows). */
    const walAfterLoad = async (extra: Partial<SqliteLogStorageOptions>) => {
      const { options, path } = await fresh(extra);
      const s = await openTracked(options);
      for (let i = 0; i < 400; i++)
        await s.save({ entries: makeEntries(1 + 20 * i, 20, 1, 3, 1000) }, true);
      return statSync(`${path}-wal`).size;
    };
    expect(await walAfterLoad({ checkpointPages: 16 })).toBeLessThan(256 * 1024);
    const dflt = await walAfterLoad({});
    expect(dflt).toBeGreaterThan(256 * 1024);
    expect(dflt).toBeLessThan(1024 * 1024);
    expect(await walAfterLoad({ checkpointPages: 1000 })).toBeGreaterThan(2 * 1024 * 1024);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      for (const key of ['checkpointPages', 'logRunBytes'] as const) {
        const { options, path } = await fresh({ [key]: bad });
        await expect(SqliteLogStorage.open(options)).rejects.toMatchObject({
          code: 'InvalidArgument',
          message: expect.stringContaining(key),
        });
        expect(existsSync(path), 'nothing is created for a refused open').toBe(false);
      }
    }
  });

  it('opens with synchronous: normal and keeps what it wrote across a clean reopen', async () => {
    const { options } = await fresh({ synchronous: 'normal' });
    const s = await SqliteLogStorage.open(options);
    await s.save({ entries: makeEntries(1, 10, 2, 5) }, true);
    await s.close();
    const again = await openTracked({ ...options, synchronous: 'full' });
    expect(await again.entries(1, 11)).toEqual(makeEntries(1, 10, 2, 5));
  });
});

describe('compaction behind a snapshot', () => {
  /** Saves a snapshot at `index` (term 1, a one-voter configuration) and no entries. */
  const snapshotAt = (s: SqliteLogStorage, index: number, sync: boolean) =>
    s.save(
      {
        snapshot: {
          meta: {
            index,
            term: 1,
            confState: {
              voters: ['n1'],
              learners: [],
              votersOutgoing: [],
              learnersNext: [],
              autoLeave: false,
            },
          },
          data: new Uint8Array(10),
        },
        entries: [],
      },
      sync,
    );
  /** How many entries the rows that end below `below` hold. */
  const countRows = (path: string, below: number) =>
    raw(
      path,
      (db) =>
        (
          db
            .prepare('SELECT coalesce(sum(last - first + 1), 0) FROM log_run WHERE last < ?')
            .raw()
            .get(below) as [number]
        )[0],
    );

  it('deletes the covered rows in batches while appends go on', async () => {
    const { options, path } = await fresh({ compactionBatchRows: 100 });
    const s = await SqliteLogStorage.open(options);
    // 50 saves of 100 entries: 50 rows.
    for (let i = 0; i < 50; i++)
      await s.save({ entries: makeEntries(1 + 100 * i, 100, 1, 1, 20) }, i === 49);
    await snapshotAt(s, 4500, true);
    // Appends interleave with the background batches.
    for (let i = 0; i < 10; i++)
      await s.save({ entries: makeEntries(5001 + i, 1, 1, 1, 20) }, true);
    await s.compact(4500);
    expect((await s.initialState()).firstIndex).toBe(4501);
    expect(await s.entries(4501, 5011)).toEqual(makeEntries(4501, 510, 1, 1, 20));
    await s.close();
    expect(countRows(path, 4501)).toBe(0);
    expect(countRows(path, 1e9)).toBe(510);
  });

  it('keeps the row the log starts in: a snapshot inside a row leaves its later entries readable', async () => {
    const { options } = await fresh({ tailCacheEntries: 0 });
    const s = await SqliteLogStorage.open(options);
    // Three saves of 10: rows [1, 10], [11, 20], [21, 30].
    for (let i = 0; i < 3; i++) await s.save({ entries: makeEntries(1 + 10 * i, 10, 1, 4) }, true);
    // A snapshot at 25 whose term matches: entries 26..30 stay in the log.
    await snapshotAt(s, 25, true);
    await s.compact(25);
    expect(await s.entries(26, 31)).toEqual(makeEntries(26, 5, 1, 4));
    await s.close();
    expect(countRows(options.path, 26)).toBe(0);
    expect(countRows(options.path, 1e9)).toBe(10); // the row [21, 30] stays whole
    const again = await openTracked(options);
    expect(await again.initialState()).toMatchObject({ firstIndex: 26, lastIndex: 30 });
    expect(await again.entries(26, 31)).toEqual(makeEntries(26, 5, 1, 4));
    expect(await again.term(26)).toBe(1);
  });

  it('resumes an interrupted compaction on the next open', async () => {
    const { options, path } = await fresh({ compactionBatchRows: 10 });
    const s = await SqliteLogStorage.open(options);
    // 200 saves of 10 entries: 200 rows, one per batch of the compaction.
    for (let i = 0; i < 200; i++)
      await s.save({ entries: makeEntries(1 + 10 * i, 10, 1, 1, 20) }, i === 199);
    // NB: unsynced, so that close() follows the commit at once: a synced save waits for an
    // fdatasync off the event loop, time in which the background deletion could finish.
    await snapshotAt(s, 2000, false);
    await s.close();
    expect(countRows(path, 2001)).toBeGreaterThan(0);
    const again = await SqliteLogStorage.open(options);
    expect(await again.initialState()).toMatchObject({ firstIndex: 2001, lastIndex: 2000 });
    await again.compact(2000);
    await again.close();
    expect(countRows(path, 1e9)).toBe(0);
  });
});
