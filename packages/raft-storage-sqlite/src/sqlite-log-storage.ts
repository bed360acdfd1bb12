import {
  closeSync,
  fdatasync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { open as openFile, readFile, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  type Entry,
  type HardState,
  type Index,
  type InitialState,
  type LogStorage,
  type NodeId,
  RaftError,
  type Snapshot,
  type StorageWrite,
  type Term,
} from 'raft-core';
import {
  asConfState,
  asHardState,
  asStoredSnapshot,
  decodeEntries,
  decodeState,
  encodeEntries,
  encodeState,
  plainConfState,
  plainHardState,
  recordsEnd,
  type StateRecord,
  type StoredSnapshot,
} from './codec.js';
import { crc32Update } from './crc32.js';
import { corrupt, SqliteStorageError, toStorageError } from './errors.js';
import { openDatabase } from './schema.js';
import {
  assembleSnapshot,
  type EncodedSnapshot,
  encodeSnapshot,
  snapshotRecord,
  storedSnapshot,
} from './snapshot-chunks.js';
import { type ChunkRow, prepareStatements, type RunRow, type Statements } from './statements.js';
import { TailCache } from './tail-cache.js';
import { planWrite } from './write-plan.js';

/** Options of {@link SqliteLogStorage.open}. */
export interface SqliteLogStorageOptions {
  /** The database file; its directory is created if missing. SQLite keeps `<path>-wal` beside it. */
  readonly path: string;
  /** The cluster this node belongs to; recorded at creation and checked on every open. */
  readonly clusterId: string;
  /** This node's id; recorded at creation and checked on every open. */
  readonly nodeId: NodeId;
  /**
   * `'full'` (default): every `save(…, true)` is fsynced before it resolves (durable across power
   * loss). `'normal'`: commits are not fsynced (durable across a process crash, not a power loss
   * or kernel crash) — an explicit opt-out for tests and throwaway clusters.
   */
  readonly synchronous?: 'full' | 'normal';
  /** Create the database if `path` does not exist (default true); false fails with `NotFound`. */
  readonly create?: boolean;
  /**
   * What to verify when opening. `'tail'` (default): state records, the start of the log and the
   * checksums of the newest entries. `'full'`: also SQLite's `quick_check`, every entry's and the
   * snapshot's checksums — O(database size).
   */
  readonly verify?: 'tail' | 'full';
  /** Newest entries kept in memory for reads (default 4096; 0 disables the cache). */
  readonly tailCacheEntries?: number;
  /** Bytes of entry data kept in memory for reads (default 4 MiB). */
  readonly tailCacheBytes?: number;
  /** Size of the rows snapshot data is split into (default 1 MiB). */
  readonly snapshotChunkBytes?: number;
  /** Log entries whose rows are deleted per transaction when compacting behind a snapshot (default 1000). */
  readonly compactionBatchRows?: number;
  /**
   * Most bytes of entry records one row holds (default 64 KiB). A save stores its entries in as
   * few rows as this allows (SQLite's cost is mostly per row); a read of one old entry reads its
   * whole row. An entry bigger than this gets a row of its own.
   */
  readonly logRunBytes?: number;
  /**
   * WAL pages (4 KiB) after which a commit copies the WAL into the database file (SQLite's
   * `wal_autocheckpoint`; default 128). The checkpoint runs inside that commit, on the thread
   * that saves, with two fsyncs: the main thread's longest stalls, growing with the pages copied.
   * SQLite's own default, 1000, left a 10 ms timer late by 7–18 ms (p99) while 1000-entry saves
   * ran back to back; 128 by 1.6–4 ms, for about 3 % of a 3-node cluster's throughput in one
   * process and none measurable with a process per node (BENCHMARKS.md, round 3). An integer ≥ 1.
   */
  readonly checkpointPages?: number;
}

/** One `save`, encoded before its transaction starts. */
interface PreparedWrite {
  readonly discardFrom: Index | undefined;
  /** The snapshot, and whether its chunks are already in the table (staged) or to insert. */
  readonly snapshot: EncodedSnapshot | undefined;
  readonly snapshotStaged: boolean;
  readonly truncateFrom: Index | undefined;
  /** The stored records of the appended entries (see `encodeEntries`). */
  readonly records: Uint8Array;
  /** Where each record starts in `records`, then its length (entries + 1 numbers). */
  readonly offsets: readonly number[];
  /** The appended entries, data copied. */
  readonly entries: readonly Entry[];
  readonly hardState: StateRecord | undefined;
  readonly confState: StateRecord | undefined;
}

/** Entries per page when reading the log (see `#readLog`). */
const PAGE_ENTRIES = 16_384;

/** Default of {@link SqliteLogStorageOptions.logRunBytes}. */
const RUN_BYTES = 64 * 1024;

function isUint(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Newest entries whose checksums are verified at open even when the cache is smaller. */
const MIN_VERIFIED_TAIL = 256;

/**
 * `SqliteLogStorage` is a durable, crash-safe {@link LogStorage} on better-sqlite3: one SQLite
 * database in WAL mode, one transaction per `save`, `synchronous=FULL` unless opted out.
 *
 * Every entry, state record and snapshot chunk carries a CRC-32; damaged data fails with
 * `SqliteStorageError` (reason `Corrupt`) and is never returned. Entries behind a snapshot
 * disappear from the log at once and are deleted from the file in bounded background batches.
 * A small tail cache serves reads of recently written entries without touching SQLite.
 *
 * NB: better-sqlite3 is synchronous: each call blocks the event loop for the duration of its
 * SQLite work (a `save` of 1000 small entries takes a few milliseconds; see the README).
 */
export class SqliteLogStorage implements LogStorage {
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #synchronous: 'full' | 'normal';
  readonly #chunkBytes: number;
  readonly #batchRows: number;
  readonly #runBytes: number;
  readonly #verifiedTail: number;
  readonly #st: Statements;
  readonly #txn: (w: PreparedWrite) => void;
  #cache: TailCache;
  #hardState: HardState = EMPTY_HARD_STATE;
  #confState: ConfState = EMPTY_CONF_STATE;
  #snap: StoredSnapshot | null = null;
  #firstIndex: Index = 1;
  #lastIndex: Index = 0;
  /** Lower bound of the rows in `log`; rows below `#firstIndex` await background deletion. */
  #minStored: Index = 1;
  #purging: Promise<void> | null = null;
  /** Descriptor of `<path>-wal`, opened at the first durable save (see `#syncWal`). */
  #walFd: number | null = null;
  /** The fdatasync in flight, if any (close waits for it). */
  #syncing: Promise<void> | null = null;
  /** The next unused `snapshot_chunk.seq`: every snapshot written gets a fresh range. */
  #nextSeq = 0;
  /** The latest snapshot staged by `stageSnapshot`, until a save installs (or replaces) it. */
  #staged: { readonly data: Uint8Array; readonly encoded: EncodedSnapshot } | null = null;
  /** Background deletion of chunks outside `[#keepSeqFrom, #keepSeqTo)`, if running. */
  #chunkPurging: Promise<void> | null = null;
  #keepSeqFrom = 0;
  #keepSeqTo = Number.MAX_SAFE_INTEGER;
  #closed = false;
  #failure: unknown;

  /**
   * Open (or create) the database at `options.path`.
   *
   * Throws `SqliteStorageError` with reason `Corrupt`, `NotRaftDatabase`, `SchemaTooNew`,
   * `IdentityMismatch`, `NotFound`, `Locked` or `Io`.
   */
  static async open(options: SqliteLogStorageOptions): Promise<SqliteLogStorage> {
    for (const k of ['clusterId', 'nodeId'] as const) {
      if (typeof options[k] !== 'string' || options[k] === '') {
        throw new RaftError(
          'InvalidArgument',
          `SqliteLogStorage.open: ${k} must be a non-empty string`,
        );
      }
    }
    const checkpointPages = options.checkpointPages ?? 128;
    for (const [k, v] of [
      ['checkpointPages', checkpointPages],
      ['logRunBytes', options.logRunBytes ?? RUN_BYTES],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 1) {
        throw new RaftError(
          'InvalidArgument',
          `SqliteLogStorage.open: ${k} must be an integer ≥ 1 (got ${String(v)})`,
        );
      }
    }
    const path = resolve(options.path);
    const synchronous = options.synchronous ?? 'full';
    const db = openDatabase(
      path,
      { clusterId: options.clusterId, nodeId: options.nodeId },
      { synchronous, create: options.create ?? true, checkpointPages },
    );
    try {
      const storage = new SqliteLogStorage(db, path, options, synchronous);
      storage.#load(options.verify ?? 'tail');
      void storage.#startPurge();
      void storage.#startChunkPurge();
      return storage;
    } catch (e) {
      db.close();
      throw toStorageError(e, `${path}: cannot open`);
    }
  }

  private constructor(
    db: Database.Database,
    path: string,
    options: SqliteLogStorageOptions,
    synchronous: 'full' | 'normal',
  ) {
    this.#db = db;
    this.#path = path;
    this.#synchronous = synchronous;
    this.#chunkBytes = Math.max(1, options.snapshotChunkBytes ?? 1024 * 1024);
    this.#batchRows = Math.max(1, options.compactionBatchRows ?? 1000);
    this.#runBytes = options.logRunBytes ?? RUN_BYTES; // validated in open()
    const cacheEntries = Math.max(0, options.tailCacheEntries ?? 4096);
    this.#verifiedTail = Math.max(MIN_VERIFIED_TAIL, cacheEntries);
    this.#cache = new TailCache(cacheEntries, options.tailCacheBytes ?? 4 * 1024 * 1024, 1);
    this.#st = prepareStatements(db);
    // `synchronous: 'full'` durability is this class's own fdatasync of the WAL after each
    // commit (see `#syncWal`), run on libuv's thread pool: SQLite's FULL would fsync inside the
    // commit, on the event loop, stalling every other node and timer of the process for the
    // whole flush. NORMAL keeps SQLite's own syncs around checkpoints, so nothing else changes.
    this.#st.syncNormal.run();
    this.#txn = db.transaction((w: PreparedWrite) => this.#write(w));
  }

  /**
   * The state to resume from (held in memory; reads nothing).
   *
   * Correctness:
   * - reflects every `save` that resolved, and nothing of a `save` that failed or was cut by a crash;
   * - `firstIndex = snapshot.index + 1` (or 1), `lastIndex ≥ firstIndex - 1`.
   */
  async initialState(): Promise<InitialState> {
    this.#checkUsable();
    return {
      hardState: this.#hardState,
      confState: this.#confState,
      snapshot: this.#snap?.meta ?? null,
      firstIndex: this.#firstIndex,
      lastIndex: this.#lastIndex,
    };
  }

  /**
   * Entries in `[lo, hi)`, cut before the total `data` size exceeds `maxBytes`; the newest come
   * from the tail cache, older ones from SQLite with their checksums verified.
   *
   * Correctness:
   * - `RaftError('Compacted')` if `lo < firstIndex`; `RaftError('Unavailable')` if
   *   `hi > lastIndex + 1`; `RaftError('InvalidArgument')` if `lo > hi`;
   * - at least one entry when `lo < hi`; no holes: `result[i].index === lo + i`;
   * - a missing row or a checksum mismatch throws `SqliteStorageError('Corrupt')`.
   */
  async entries(lo: Index, hi: Index, maxBytes?: number): Promise<Entry[]> {
    this.#checkUsable();
    if (lo < this.#firstIndex) {
      throw new RaftError(
        'Compacted',
        `entries(${lo}, ${hi}): compacted below ${this.#firstIndex}`,
      );
    }
    if (hi > this.#lastIndex + 1) {
      throw new RaftError('Unavailable', `entries(${lo}, ${hi}): last index is ${this.#lastIndex}`);
    }
    if (lo > hi) throw new RaftError('InvalidArgument', `entries(${lo}, ${hi}): lo > hi`);
    const max = maxBytes ?? Number.POSITIVE_INFINITY;
    const out: Entry[] = [];
    let bytes = 0;
    const cached = this.#cache.first;
    if (lo < cached) {
      bytes = this.#readLog(lo, Math.min(hi, cached), max, out);
      if (bytes < 0) return out;
    }
    if (hi > cached) this.#cache.read(Math.max(lo, cached), hi, max, out, bytes);
    return out;
  }

  /**
   * The term of the entry at `index`; the snapshot's term at the snapshot index (0 at index 0).
   *
   * Correctness: `RaftError('Compacted')` below the snapshot index, `RaftError('Unavailable')`
   * above the last index; a damaged entry throws `SqliteStorageError('Corrupt')`.
   */
  async term(index: Index): Promise<Term> {
    this.#checkUsable();
    const snapIndex = this.#firstIndex - 1;
    if (index < snapIndex)
      throw new RaftError('Compacted', `term(${index}): compacted below ${snapIndex}`);
    if (index > this.#lastIndex) {
      throw new RaftError('Unavailable', `term(${index}): last index is ${this.#lastIndex}`);
    }
    return this.#termAt(index);
  }

  /**
   * Apply one write (snapshot → entries → hard state / conf state) in one SQLite transaction.
   *
   * Correctness:
   * - `sync` true (and `synchronous: 'full'`): the transaction is fsynced before the promise
   *   resolves; `sync` false skips that fsync (still atomic and ordered, still survives a process
   *   crash, may be lost on power loss together with later writes);
   * - atomic: after a crash the database holds all of `write` or none of it; an invalid write
   *   throws `RaftError('InvalidArgument')` and changes nothing;
   * - stored entries at index ≥ `write.entries[0].index` are replaced; a snapshot keeps the
   *   entries after it only if the entry at its index has its term;
   * - no holes; a failed write (`SqliteStorageError('Io')`) makes every later call throw `Failed`.
   */
  async save(write: StorageWrite, sync: boolean): Promise<void> {
    this.#checkUsable();
    const plan = planWrite(write, this.#firstIndex, this.#lastIndex, (i) => this.#termAt(i));
    const { bytes, offsets, entries: appended } = encodeEntries(write.entries, plan.appendFrom);
    const staged = this.#stagedFor(write);
    const snapshot =
      write.snapshot === undefined
        ? undefined
        : (staged ?? encodeSnapshot(write.snapshot, this.#chunkBytes, this.#takeSeqs(write)));
    const conf = write.confState ?? write.snapshot?.meta.confState;
    const start = appended[0]?.index;
    const prepared: PreparedWrite = {
      discardFrom:
        snapshot !== undefined && !plan.keepSuffix && this.#lastIndex > plan.lastIndexAfterSnapshot
          ? plan.lastIndexAfterSnapshot + 1
          : undefined,
      snapshot,
      snapshotStaged: staged !== undefined,
      truncateFrom: start !== undefined && start <= plan.lastIndexAfterSnapshot ? start : undefined,
      records: bytes,
      offsets,
      entries: appended,
      hardState:
        write.hardState === undefined
          ? undefined
          : encodeState('hard', plainHardState(write.hardState)),
      confState: conf === undefined ? undefined : encodeState('conf', plainConfState(conf)),
    };
    // NB: the transaction is synchronous and blocks the event loop (its fsync does not: see
    // `#syncWal`). Yield one turn first, so that work already queued — above all the leader's appends, which raft-core
    // lets go out before its own write (thesis §10.2.1) — leaves while the disk works.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#checkUsable();
    try {
      this.#txn(prepared);
    } catch (e) {
      const err = toStorageError(e, `${this.#path}: save failed`);
      this.#failure = err;
      throw err;
    }

    // Committed: bring the in-memory view up to date.
    const replaced = this.#snap;
    if (snapshot !== undefined) {
      const s = snapshot.stored.meta.index;
      this.#snap = snapshot.stored;
      // A staged snapshot that is installed, or that this one supersedes, is done with (its
      // file, if never installed, goes at the next open).
      if (this.#staged !== null && this.#staged.encoded.stored.meta.index <= s) this.#staged = null;
      // The replaced snapshot's chunks (or file) go in the background.
      this.#keepSeqFrom = snapshot.stored.firstSeq;
      this.#keepSeqTo = snapshot.stored.firstSeq + snapshot.stored.chunks;
      void this.#startChunkPurge();
      if (replaced?.file !== undefined && replaced.file !== snapshot.stored.file)
        void unlink(join(dirname(this.#path), replaced.file)).catch(() => {});
      if (plan.keepSuffix) this.#cache.dropThrough(s);
      else this.#cache.reset(s + 1);
    }
    this.#firstIndex = plan.firstIndex;
    this.#lastIndex = plan.lastIndex;
    this.#cache.append(appended);
    if (write.hardState !== undefined) this.#hardState = plainHardState(write.hardState);
    if (conf !== undefined) this.#confState = plainConfState(conf);
    if (snapshot !== undefined) void this.#startPurge();
    if (sync && this.#synchronous === 'full') await this.#syncWal();
  }

  /**
   * Writes a snapshot's data ahead of the `save` that installs it, into a file of its own beside
   * the database (`<db file name>-snap-<n>`), with asynchronous writes and fdatasyncs in steps of
   * `snapshotChunkBytes`: nothing of it runs on the event loop but the CRC, and the bulk data
   * never passes through the WAL (no checkpoint has to copy it). The following
   * `save({ snapshot, … })` with the same `snapshot.data` object then commits only a record
   * naming the file. Until that save commits, the file is not part of the state: a crash, a
   * close or a different snapshot saved first leaves garbage that the next open deletes.
   *
   * May run concurrently with other calls; `snapshot.data` must not change until it resolves.
   */
  async stageSnapshot(snapshot: Snapshot): Promise<void> {
    this.#checkUsable();
    const data = snapshot.data;
    const name = `${basename(this.#path)}-snap-${this.#nextSeq++}`;
    const file = join(dirname(this.#path), name);
    let crc = 0;
    try {
      const fh = await openFile(file, 'w');
      try {
        for (let off = 0; off < data.byteLength; off += this.#chunkBytes) {
          const chunk = data.subarray(off, Math.min(off + this.#chunkBytes, data.byteLength));
          crc = crc32Update(crc, chunk);
          await fh.write(chunk, 0, chunk.byteLength, off);
          // Flush as we go: a large amount of dirty data would delay the log's own fdatasyncs.
          await fh.datasync();
          if (this.#closed) throw new SqliteStorageError('Closed', `${this.#path}: closed`);
        }
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await fsyncDirAsync(dirname(this.#path));
    } catch (e) {
      await unlink(file).catch(() => {});
      throw toStorageError(e, `${this.#path}: cannot stage a snapshot in ${name}`);
    }
    const stored = { ...storedSnapshot(snapshot, crc, 0, 0), file: name };
    this.#staged = {
      data,
      encoded: { stored, record: snapshotRecord(stored), chunks: [], crcs: [] },
    };
  }

  /** The staged encoding of `write.snapshot`, if it was staged (and its file is still there). */
  #stagedFor(write: StorageWrite): EncodedSnapshot | undefined {
    const st = this.#staged;
    const s = write.snapshot;
    if (st === null || s === undefined || st.data !== s.data) return undefined;
    const m = st.encoded.stored;
    if (m.meta.index !== s.meta.index || m.meta.term !== s.meta.term) return undefined;
    const stored = { ...m, meta: { ...m.meta, confState: plainConfState(s.meta.confState) } };
    return { ...st.encoded, stored, record: snapshotRecord(stored) };
  }

  /** Reserves a fresh range of chunk numbers for `write.snapshot`. */
  #takeSeqs(write: StorageWrite): number {
    const n = Math.ceil((write.snapshot?.data.byteLength ?? 0) / this.#chunkBytes);
    const first = this.#nextSeq;
    this.#nextSeq += n;
    return first;
  }

  /**
   * Deletes chunks outside the snapshot in force, one row per turn of the event loop (a 1 MiB
   * chunk frees a few hundred pages); close() lets it finish. Unsynced: a lost delete leaves garbage the next open
   * deletes again.
   */
  #startChunkPurge(): Promise<void> {
    if (this.#chunkPurging === null) {
      this.#chunkPurging = this.#purgeChunks().finally(() => {
        this.#chunkPurging = null;
      });
    }
    return this.#chunkPurging;
  }

  async #purgeChunks(): Promise<void> {
    // NB: close() waits for this to finish (a few dozen 1 MiB rows at most per snapshot).
    while (this.#failure === undefined) {
      await nextTurn();
      if (this.#failure !== undefined) return;
      try {
        const row = this.#st.staleChunk.get(this.#keepSeqFrom, this.#keepSeqTo) as
          | [number]
          | undefined;
        if (row === undefined) return;
        this.#st.deleteChunk.run(row[0]);
      } catch (e) {
        this.#failure = toStorageError(e, `${this.#path}: snapshot cleanup failed`);
        return;
      }
    }
  }

  /**
   * Makes every commit so far durable: fdatasync of the WAL, off the event loop. Linux flushes
   * a file's dirty pages whichever descriptor asks, so SQLite's own writes are covered. A crash
   * before it completes loses only commits that were not acknowledged yet: SQLite's WAL recovery
   * stops at the last commit whose frames are intact, and WAL commits are ordered.
   */
  async #syncWal(): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        this.#walFd ??= openSync(`${this.#path}-wal`, 'r');
        const fd = this.#walFd;
        await new Promise<void>((resolve, reject) =>
          fdatasync(fd, (e) => (e === null ? resolve() : reject(e))),
        );
      } catch (e) {
        const err = toStorageError(e, `${this.#path}: fsync failed`);
        this.#failure ??= err;
        throw err;
      }
    };
    const p = run();
    const settled = p.then(
      () => {},
      () => {},
    );
    this.#syncing = settled;
    void settled.then(() => {
      if (this.#syncing === settled) this.#syncing = null;
    });
    await p;
  }

  /**
   * Wait until the rows holding only entries ≤ `index` are deleted from the file (the row the
   * log starts in may hold some too). They left the log when the snapshot covering them was
   * saved; deletion runs in background batches of `compactionBatchRows` entries, yielding to the
   * event loop between batches.
   *
   * Correctness: `RaftError('InvalidArgument')` if `index` is above the snapshot index (entries
   * not covered by a snapshot are never discarded); `term(snapshotIndex)` keeps answering.
   */
  async compact(index: Index): Promise<void> {
    this.#checkUsable();
    const snapIndex = this.#firstIndex - 1;
    if (index > snapIndex) {
      throw new RaftError(
        'InvalidArgument',
        `compact(${index}): beyond the snapshot index ${snapIndex}`,
      );
    }
    while (this.#minStored <= index) {
      await this.#startPurge();
      this.#checkUsable();
    }
  }

  /**
   * The latest snapshot, read from its chunks (not cached in memory).
   *
   * Correctness: returns exactly the data last saved; a missing or damaged chunk throws
   * `SqliteStorageError('Corrupt')`.
   */
  async snapshot(): Promise<Snapshot | null> {
    this.#checkUsable();
    const snap = this.#snap;
    if (snap?.file === undefined) return this.#readSnapshot();
    let data: Uint8Array;
    try {
      data = await readFile(join(dirname(this.#path), snap.file));
    } catch (e) {
      throw corrupt(this.#path, `cannot read the snapshot file ${snap.file}: ${String(e)}`);
    }
    return { meta: snap.meta, data: this.#checkSnapshotFile(snap, data) };
  }

  /** `data` if it is the snapshot file `snap` describes (size and CRC), else throws `Corrupt`. */
  #checkSnapshotFile(snap: StoredSnapshot, data: Uint8Array): Uint8Array {
    if (data.byteLength !== snap.size || crc32Update(0, data) !== snap.crc)
      throw corrupt(this.#path, `snapshot file ${snap.file} fails its checksum`);
    // A plain Uint8Array, like every other snapshot this storage returns.
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Stop background compaction and close the database (a clean shutdown: SQLite checkpoints the
   * WAL into the database file). Idempotent; every other call afterwards throws `Closed`.
   *
   * Correctness: every `save` that resolved stays durable.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#purging !== null) await this.#purging;
    if (this.#chunkPurging !== null) await this.#chunkPurging;
    if (this.#syncing !== null) await this.#syncing;
    if (this.#walFd !== null) {
      closeSync(this.#walFd);
      this.#walFd = null;
    }
    try {
      this.#db.close();
    } catch (e) {
      throw toStorageError(e, `${this.#path}: close failed`);
    }
  }

  // -------------------------------------------------------------------------------------------

  #checkUsable(): void {
    if (this.#closed) throw new SqliteStorageError('Closed', `${this.#path}: storage is closed`);
    if (this.#failure !== undefined) {
      throw new SqliteStorageError(
        'Failed',
        `${this.#path}: an earlier write failed; reopen the storage`,
        {
          cause: this.#failure,
        },
      );
    }
  }

  /** Read and verify the latest snapshot's data from its chunks. */
  #readSnapshot(): Snapshot | null {
    const snap = this.#snap;
    if (snap === null) return null;
    if (snap.file !== undefined) {
      let data: Uint8Array;
      try {
        data = readFileSync(join(dirname(this.#path), snap.file));
      } catch (e) {
        throw corrupt(this.#path, `cannot read the snapshot file ${snap.file}: ${String(e)}`);
      }
      return { meta: snap.meta, data: this.#checkSnapshotFile(snap, data) };
    }
    let rows: ChunkRow[];
    try {
      rows = this.#st.selectChunks.all(snap.firstSeq, snap.firstSeq + snap.chunks) as ChunkRow[];
    } catch (e) {
      throw toStorageError(e, `${this.#path}: cannot read the snapshot`);
    }
    const data = assembleSnapshot(rows, snap);
    if (typeof data === 'string') throw corrupt(this.#path, data);
    return { meta: snap.meta, data };
  }

  /** The transaction body of `save`. */
  #write(w: PreparedWrite): void {
    const st = this.#st;
    if (w.discardFrom !== undefined) this.#cutFrom(w.discardFrom);
    if (w.snapshot !== undefined) {
      // The replaced snapshot's chunks stay until the background cleanup (see #purgeChunks).
      const first = w.snapshot.stored.firstSeq;
      if (!w.snapshotStaged) {
        for (let i = 0; i < w.snapshot.chunks.length; i++)
          st.insertChunk.run(first + i, w.snapshot.chunks[i]!, w.snapshot.crcs[i]!);
      }
      st.upsertState.run('snap', w.snapshot.record.value, w.snapshot.record.crc);
    }
    if (w.truncateFrom !== undefined) this.#cutFrom(w.truncateFrom);
    // The entries go in runs of up to #runBytes: a row each, instead of a row per entry.
    const n = w.entries.length;
    const off = w.offsets;
    const max = this.#runBytes;
    const base = n > 0 ? w.entries[0]!.index : 0;
    for (let i = 0; i < n; ) {
      let j = i + 1;
      while (j < n && off[j + 1]! - off[i]! <= max) j++;
      st.insertRun.run(base + i, base + j - 1, w.records.subarray(off[i], off[j]));
      i = j;
    }
    if (w.hardState !== undefined) st.upsertState.run('hard', w.hardState.value, w.hardState.crc);
    if (w.confState !== undefined) st.upsertState.run('conf', w.confState.value, w.confState.crc);
  }

  /** Removes the stored entries at `index` and after (inside a save's transaction). */
  #cutFrom(index: Index): void {
    const st = this.#st;
    st.deleteRunsFrom.run(index);
    // The run before may reach past `index`: keep its head.
    const row = st.runAt.get(index) as RunRow | undefined;
    if (row === undefined) return;
    const [first, last, records] = row;
    if (!isUint(first) || !isUint(last) || !(records instanceof Uint8Array))
      throw corrupt(this.#path, `the log run at ${String(first)} is malformed`);
    if (last < index) return;
    const end = recordsEnd(records, first, index - first);
    if (typeof end === 'string') throw corrupt(this.#path, end);
    st.updateRun.run(index - 1, records.subarray(0, end), first);
  }

  /** Term at `index`, for `firstIndex - 1 ≤ index ≤ lastIndex`. */
  #termAt(index: Index): Term {
    if (index === this.#firstIndex - 1) return this.#snap?.meta.term ?? 0;
    const cached = this.#cache.get(index);
    if (cached !== undefined) return cached.term;
    let row: RunRow | undefined;
    try {
      row = this.#st.runAt.get(index) as RunRow | undefined;
    } catch (e) {
      throw toStorageError(e, `${this.#path}: cannot read entry ${index}`);
    }
    const out: Entry[] = [];
    if (row !== undefined) this.#decodeRun(row, index, index + 1, out);
    if (out.length === 0) throw corrupt(this.#path, `log entry ${index} is missing`);
    return out[0]!.term;
  }

  /**
   * Append the stored entries `[lo, hi)` to `out` while the running total stays ≤ `max` (at least
   * one entry overall), verifying each. Returns the total bytes, or -1 if the limit stopped it.
   *
   * Reads pages of consecutive indexes (growing from 64 to {@link PAGE_ENTRIES} entries when a
   * byte limit may stop the read early); the entries of a page share one buffer.
   */
  #readLog(lo: Index, hi: Index, max: number, out: Entry[]): number {
    let next = lo;
    let bytes = 0;
    let page = max === Number.POSITIVE_INFINITY ? PAGE_ENTRIES : 64;
    while (next < hi) {
      const end = Math.min(hi, next + page);
      let row: [number, number | null, unknown, unknown, unknown, unknown];
      try {
        row = this.#st.selectPage.get(next, end) as typeof row;
      } catch (e) {
        throw toStorageError(e, `${this.#path}: cannot read entries [${next}, ${end})`);
      }
      // The runs must cover [next, end) without holes or overlaps (a hole or overlap would also
      // shift every later record to the wrong index, which its checksum then rejects).
      const [runs, bad, first, last, count, records] = row;
      if (
        runs === 0 ||
        bad !== 0 ||
        !isUint(first) ||
        !isUint(last) ||
        first > next ||
        last < end - 1 ||
        count !== last - first + 1 ||
        !(records instanceof Uint8Array)
      )
        this.#diagnose(next, end);
      const result = decodeEntries(records, first, count, max, out, bytes, next, end);
      if (typeof result === 'string') this.#diagnose(next, end);
      if (result < 0) return -1;
      bytes = result;
      next = end;
      page = Math.min(page * 4, PAGE_ENTRIES);
    }
    return bytes;
  }

  /**
   * A page read found something wrong: re-read `[lo, hi)` row by row to throw the precise
   * `Corrupt` error (a missing entry, malformed columns, a checksum mismatch).
   */
  #diagnose(lo: Index, hi: Index): never {
    let rows: RunRow[];
    try {
      rows = this.#st.selectRuns.all(lo, hi) as RunRow[];
    } catch (e) {
      throw toStorageError(e, `${this.#path}: cannot read entries [${lo}, ${hi})`);
    }
    let next = lo;
    const out: Entry[] = [];
    for (const r of rows) {
      const first = r[0];
      if (isUint(first) && first > next) break;
      if (isUint(first) && first < next && next > lo)
        throw corrupt(this.#path, `log runs overlap at entry ${first}`);
      out.length = 0;
      this.#decodeRun(r, next, hi, out);
      next += out.length;
      if (next >= hi || out.length === 0) break;
    }
    if (next < hi) throw corrupt(this.#path, `log entry ${next} is missing`);
    throw corrupt(this.#path, `entries [${lo}, ${hi}) are malformed`);
  }

  /** Verifies run `row` and pushes its entries in `[lo, hi)` onto `out`; throws `Corrupt` if damaged. */
  #decodeRun(row: RunRow, lo: Index, hi: Index, out: Entry[]): void {
    const [first, last, records] = row;
    // NB: a damaged serial type can turn a value into TEXT, a float or NULL (STRICT tables
    // check types on write only).
    if (!isUint(first) || !isUint(last) || last < first || !(records instanceof Uint8Array))
      throw corrupt(this.#path, `the log run at ${String(first)} is malformed`);
    const result = decodeEntries(
      records,
      first,
      last - first + 1,
      Number.POSITIVE_INFINITY,
      out,
      0,
      lo,
      hi,
    );
    if (typeof result === 'string') throw corrupt(this.#path, result);
  }

  #readState<T>(key: string, parse: (x: unknown) => T | undefined): T | undefined {
    const row = this.#st.selectState.get(key) as [unknown, unknown] | undefined;
    if (row === undefined) return undefined;
    const [bytes, crc] = row;
    const value =
      bytes instanceof Uint8Array && isUint(crc) ? parse(decodeState(key, bytes, crc)) : undefined;
    if (value === undefined) throw corrupt(this.#path, `state record "${key}" is damaged`);
    return value;
  }

  /** Load the state records and bounds of the log, verify them and fill the tail cache. */
  #load(verify: 'tail' | 'full'): void {
    const p = this.#path;
    const st = this.#st;
    this.#hardState = this.#readState('hard', asHardState) ?? EMPTY_HARD_STATE;
    this.#confState = this.#readState('conf', asConfState) ?? EMPTY_CONF_STATE;
    this.#snap = this.#readState('snap', asStoredSnapshot) ?? null;
    this.#firstIndex = (this.#snap?.meta.index ?? 0) + 1;
    const firstSeq = this.#snap?.firstSeq ?? 0;
    const [chunks, chunkBytes] = st.chunkStats.get(
      firstSeq,
      firstSeq + (this.#snap?.chunks ?? 0),
    ) as [number, number];
    const inRows = this.#snap?.file === undefined ? (this.#snap?.size ?? 0) : 0;
    if (chunks !== (this.#snap?.chunks ?? 0) || chunkBytes !== inRows) {
      throw corrupt(
        p,
        `snapshot has ${chunks} chunks of ${chunkBytes} bytes, expected ${this.#snap?.chunks ?? 0}`,
      );
    }
    // Rows outside the snapshot in force (a replaced one, a stage never installed) are garbage.
    this.#keepSeqFrom = firstSeq;
    this.#keepSeqTo = firstSeq + (this.#snap?.chunks ?? 0);
    this.#nextSeq = Math.max(
      this.#keepSeqTo,
      ((st.maxChunkSeq.get() as [number | null])[0] ?? -1) + 1,
      this.#loadSnapshotFiles(),
    );
    // Runs are ordered and never overlap: the last run ends the log.
    const lastRun = st.lastRun.get() as [unknown, unknown] | undefined;
    const max = lastRun?.[1] ?? null;
    if (max !== null && !isUint(max)) throw corrupt(p, 'the last log run is malformed');
    this.#lastIndex = max !== null && max >= this.#firstIndex ? max : this.#firstIndex - 1;
    const firstRun = st.firstRun.get() as [unknown, unknown] | undefined;
    this.#minStored = isUint(firstRun?.[0]) ? firstRun[0] : this.#lastIndex + 1;
    if (this.#lastIndex >= this.#firstIndex) {
      const holder = st.runAt.get(this.#firstIndex) as RunRow | undefined;
      const held = holder !== undefined && isUint(holder[1]) && holder[1] >= this.#firstIndex;
      const first = held
        ? this.#firstIndex
        : (st.firstRunFrom.get(this.#firstIndex) as [number | null])[0];
      if (first !== this.#firstIndex) {
        throw corrupt(
          p,
          `the log starts at ${first}, expected ${this.#firstIndex} (after the snapshot)`,
        );
      }
    }
    const tailStart = Math.max(this.#firstIndex, this.#lastIndex + 1 - this.#verifiedTail);
    const tail: Entry[] = [];
    this.#readLog(tailStart, this.#lastIndex + 1, Number.POSITIVE_INFINITY, tail);
    this.#cache.reset(tailStart);
    this.#cache.append(tail);
    if (verify === 'full') this.#verifyAll();
  }

  /**
   * Checks the snapshot file in force (if any) exists with the right size, deletes every other
   * snapshot file of this database (replaced, or staged and never installed) and returns the
   * next unused file number.
   */
  #loadSnapshotFiles(): number {
    const dir = dirname(this.#path);
    const prefix = `${basename(this.#path)}-snap-`;
    const current = this.#snap?.file;
    if (current !== undefined) {
      let size = -1;
      try {
        size = statSync(join(dir, current)).size;
      } catch {
        throw corrupt(this.#path, `the snapshot file ${current} is missing`);
      }
      if (size !== this.#snap?.size)
        throw corrupt(this.#path, `the snapshot file ${current} has ${size} bytes`);
    }
    let next = 0;
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix)) continue;
      const n = Number(name.slice(prefix.length));
      if (!Number.isSafeInteger(n) || n < 0) continue;
      next = Math.max(next, n + 1);
      if (name !== current) unlinkSync(join(dir, name));
    }
    return next;
  }

  #verifyAll(): void {
    const result = this.#db.pragma('quick_check', { simple: true });
    if (result !== 'ok') throw corrupt(this.#path, `quick_check: ${String(result)}`);
    const page: Entry[] = [];
    for (let lo = this.#firstIndex; lo <= this.#lastIndex; lo += 10_000) {
      page.length = 0;
      this.#readLog(lo, Math.min(lo + 10_000, this.#lastIndex + 1), Number.POSITIVE_INFINITY, page);
    }
    this.#readSnapshot();
  }

  /**
   * Start (or join) the background deletion of rows below `#firstIndex`; resolves when none are
   * left, the storage closes or a delete fails (which poisons the storage like a failed save).
   */
  #startPurge(): Promise<void> {
    if (this.#purging === null && this.#minStored < this.#firstIndex) {
      this.#purging = this.#purge().finally(() => {
        this.#purging = null;
      });
    }
    return this.#purging ?? Promise.resolve();
  }

  async #purge(): Promise<void> {
    while (this.#minStored < this.#firstIndex && !this.#closed && this.#failure === undefined) {
      await nextTurn();
      if (this.#closed || this.#failure !== undefined) return;
      // NB: no fsync for these commits: the rows are already outside the log, so a delete lost in
      // a power failure only leaves rows that the next open deletes again. WAL keeps commits in
      // order, so the next synced save makes this one durable too.
      try {
        // Runs are ordered and never overlap: the first one says where rows still wait.
        const row = this.#st.firstRun.get() as [unknown, unknown] | undefined;
        const [first, last] = row ?? [this.#firstIndex, this.#firstIndex];
        if (!isUint(first) || !isUint(last) || last >= this.#firstIndex) {
          // Nothing lies wholly behind the log (the run it starts in stays whole); a malformed
          // row is left for reads to report.
          this.#minStored = this.#firstIndex;
          return;
        }
        const below = Math.min(first + this.#batchRows, this.#firstIndex);
        // Runs that end below the log; the one the log starts in stays whole.
        this.#st.deleteRunsBelow.run(below, this.#firstIndex);
        this.#minStored = below;
      } catch (e) {
        this.#failure = toStorageError(e, `${this.#path}: compaction failed`);
        return;
      }
    }
  }
}

/** fsync a directory (a new file's name is durable only once its directory is), off the loop. */
async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await openFile(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
