import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStorageError, toStorageError } from './errors.js';

/** The schema version this package writes, stored in `PRAGMA user_version`. */
export const SCHEMA_VERSION = 2;

/** `PRAGMA application_id` of every raft-storage-sqlite database: ASCII "tsRF". */
export const APPLICATION_ID = 0x74735246;

/**
 * Schema migrations: `MIGRATIONS[v]` upgrades a database from version `v` to `v + 1`. A new
 * database runs all of them from 0. They run in one transaction together with the
 * `user_version` bump, so a crash mid-migration leaves the old version intact.
 *
 * Tables (all STRICT; every record carries a CRC-32, see codec.ts):
 * - `meta(key, value)`: `cluster_id`, `node_id`, `created_by`;
 * - `log_run(first, last, records)` (version 2): entries `first…last` in one row, `first` the
 *   rowid; `records` holds their self-describing records back to back (a 20-byte header with
 *   length, CRC, term and type, then the payload; see codec.ts). A save writes its entries as a
 *   few runs of up to 64 KiB instead of one row each: SQLite's cost is mostly per row, in the
 *   insert and again in the delete after compaction. Runs never overlap and leave no holes;
 *   truncation cuts the run it lands in. Version 1 had `log(idx, entry)`, one row per entry; the
 *   migration turns each of those rows into a run of one entry;
 * - `state(key, value, crc)`: JSON records `hard` (HardState), `conf` (ConfState), `snap`
 *   (snapshot metadata and chunk layout);
 * - `snapshot_chunk(seq, data, crc)`: the latest snapshot's data in order.
 */
const MIGRATIONS: ReadonlyArray<(db: Database.Database) => void> = [
  (db) =>
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT, WITHOUT ROWID;
      CREATE TABLE log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL) STRICT;
      CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL) STRICT;
      CREATE TABLE snapshot_chunk (seq INTEGER PRIMARY KEY, data BLOB NOT NULL, crc INTEGER NOT NULL) STRICT;
    `),
  (db) =>
    db.exec(`
      CREATE TABLE log_run (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, records BLOB NOT NULL) STRICT;
      INSERT INTO log_run (first, last, records) SELECT idx, idx, entry FROM log ORDER BY idx;
      DROP TABLE log;
    `),
];

/** Smallest valid database: one page of the smallest page size. */
const MIN_DATABASE_BYTES = 512;

/** The tables of {@link SCHEMA_VERSION}: name → "column type" list, as `PRAGMA table_info` reports. */
const TABLES: Readonly<Record<string, string>> = {
  log_run: 'first INTEGER, last INTEGER, records BLOB',
  meta: 'key TEXT, value TEXT',
  snapshot_chunk: 'seq INTEGER, data BLOB, crc INTEGER',
  state: 'key TEXT, value BLOB, crc INTEGER',
};

/**
 * Check that the tables are exactly those of {@link SCHEMA_VERSION}. NB: the schema is stored as
 * SQL text in the file; a damaged byte there could rename a column, which would otherwise surface
 * as a confusing "no such column" error.
 */
function checkTables(db: Database.Database, path: string): void {
  const names = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    .pluck()
    .all();
  const expected = Object.keys(TABLES).sort();
  if (names.join() !== expected.join()) {
    throw new SqliteStorageError(
      'Corrupt',
      `${path}: tables ${names.join(', ')} do not match schema ${SCHEMA_VERSION}`,
    );
  }
  for (const name of expected) {
    const columns = db.pragma(`table_info(${name})`) as Array<{ name: string; type: string }>;
    const shape = columns.map((c) => `${c.name} ${c.type}`).join(', ');
    if (shape !== TABLES[name]) {
      throw new SqliteStorageError(
        'Corrupt',
        `${path}: table ${name} (${shape}) does not match schema ${SCHEMA_VERSION}`,
      );
    }
  }
}

/** Who a database belongs to; checked on every open. */
export interface Identity {
  readonly clusterId: string;
  readonly nodeId: string;
}

/** Settings applied to every connection. */
export interface ConnectionSettings {
  readonly synchronous: 'full' | 'normal';
  readonly create: boolean;
  /** `PRAGMA wal_autocheckpoint`: WAL pages after which a commit checkpoints. */
  readonly checkpointPages: number;
}

/**
 * `openDatabase` opens (creating it atomically if missing and allowed) the database at `path`,
 * takes the exclusive lock, migrates it to {@link SCHEMA_VERSION} and checks its identity.
 * It throws {@link SqliteStorageError} with a precise reason for every way this can fail.
 */
export function openDatabase(
  path: string,
  identity: Identity,
  settings: ConnectionSettings,
): Database.Database {
  if (!existsSync(path)) {
    if (existsSync(`${path}-wal`) || existsSync(`${path}-journal`)) {
      throw new SqliteStorageError(
        'Corrupt',
        `${path}: a journal exists but the database file is missing`,
      );
    }
    if (!settings.create)
      throw new SqliteStorageError('NotFound', `${path}: no such database (create: false)`);
    createDatabase(path, identity);
  }
  // NB: SQLite would happily treat an empty or very short file as a new, empty database; a node
  // that forgot its vote and log could break election safety, so such a file is corruption.
  const size = statSync(path).size;
  if (size < MIN_DATABASE_BYTES) {
    throw new SqliteStorageError(
      'Corrupt',
      `${path}: database file is ${size === 0 ? 'empty' : `only ${size} bytes`}`,
    );
  }

  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 0 });
  } catch (e) {
    throw toStorageError(e, `${path}: cannot open`);
  }
  try {
    // Exclusive locking: one process per database (a second open fails with Locked), and WAL
    // needs no shared-memory file.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma(`synchronous = ${settings.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('cache_size = -16384');
    db.pragma('temp_store = MEMORY');
    db.pragma('journal_size_limit = 67108864');
    db.pragma(`wal_autocheckpoint = ${settings.checkpointPages}`);
    // Read-only checks first: never write to a file that is not ours.
    const version = checkSchema(db, path);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal')
      throw new SqliteStorageError(
        'Io',
        `${path}: cannot enable WAL (journal_mode is ${String(mode)})`,
      );
    if (version < SCHEMA_VERSION) migrate(db, version);
    checkTables(db, path);
    checkIdentity(db, path, identity);
    return db;
  } catch (e) {
    db.close();
    throw toStorageError(e, `${path}: cannot open`);
  }
}

/** Check the header of an open database; returns its schema version (≤ {@link SCHEMA_VERSION}). */
function checkSchema(db: Database.Database, path: string): number {
  const appId = db.pragma('application_id', { simple: true });
  if (appId !== APPLICATION_ID) {
    const objects = (db.prepare('SELECT count(*) FROM sqlite_schema').raw().get() as [number])[0];
    if (appId === 0 && objects === 0) {
      throw new SqliteStorageError(
        'Corrupt',
        `${path}: the database is empty (a truncated or zeroed file?)`,
      );
    }
    throw new SqliteStorageError(
      'NotRaftDatabase',
      `${path}: not a raft-storage-sqlite database (application_id ${String(appId)})`,
    );
  }
  const version = db.pragma('user_version', { simple: true });
  if (typeof version !== 'number' || version > SCHEMA_VERSION) {
    throw new SqliteStorageError(
      'SchemaTooNew',
      `${path}: schema version ${String(version)} is newer than ${SCHEMA_VERSION}, the newest this version of raft-storage-sqlite understands`,
    );
  }
  // Creation sets the application id, the tables and the version in one transaction, so a
  // tsraft database at version 0 has a damaged header.
  if (version < 1)
    throw new SqliteStorageError('Corrupt', `${path}: schema version ${version} is invalid`);
  return version;
}

function migrate(db: Database.Database, from: number): void {
  db.transaction(() => {
    for (let v = from; v < SCHEMA_VERSION; v++) MIGRATIONS[v]!(db);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function checkIdentity(db: Database.Database, path: string, identity: Identity): void {
  const rows = db.prepare('SELECT key, value FROM meta').all() as Array<{
    key: string;
    value: string;
  }>;
  const meta = new Map(rows.map((r) => [r.key, r.value]));
  const cluster = meta.get('cluster_id');
  const node = meta.get('node_id');
  if (cluster === undefined || node === undefined) {
    throw new SqliteStorageError('Corrupt', `${path}: the database records no cluster or node id`);
  }
  if (cluster !== identity.clusterId || node !== identity.nodeId) {
    throw new SqliteStorageError(
      'IdentityMismatch',
      `${path}: belongs to node "${node}" of cluster "${cluster}", not node "${identity.nodeId}" of cluster "${identity.clusterId}"`,
    );
  }
}

/**
 * `createDatabase` creates a database atomically: it is initialized under a temporary name,
 * fsynced, renamed into place and the directory fsynced. A crash leaves either no file at `path`
 * (creation is retried on the next open) or a complete one, so a file without the schema is never
 * mistaken for a new node.
 */
function createDatabase(path: string, identity: Identity): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const prefix = `${basename(path)}.init-`;
  for (const f of readdirSync(dir)) if (f.startsWith(prefix)) rmSync(join(dir, f), { force: true });
  const tmp = join(dir, `${prefix}${process.pid}`);
  try {
    const db = new Database(tmp, { timeout: 0 });
    try {
      db.pragma('synchronous = FULL');
      db.transaction(() => {
        for (let v = 0; v < SCHEMA_VERSION; v++) MIGRATIONS[v]!(db);
        const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
        put.run('cluster_id', identity.clusterId);
        put.run('node_id', identity.nodeId);
        put.run('created_by', `raft-storage-sqlite schema ${SCHEMA_VERSION}`);
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    } finally {
      db.close();
    }
    fsyncPath(tmp);
    renameSync(tmp, path);
    fsyncPath(dir);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw toStorageError(e, `${path}: cannot create`);
  }
}

/** `fsyncPath` fsyncs a file or directory by path. */
export function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
