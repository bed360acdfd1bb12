import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import type {
  Entry,
  Index,
  InitialState,
  LogStorage,
  Snapshot,
  StorageWrite,
  Term,
} from 'raft-core';
import { SqliteStorageError } from './errors.js';
import type { SqliteLogStorageOptions } from './sqlite-log-storage.js';
import {
  fromWire,
  packEntries,
  type Reply,
  type Request,
  STAGED_SNAPSHOT_GONE,
  type ToWorker,
  unpackEntries,
  type WireWrite,
} from './worker-protocol.js';
import { spawnStorageWorker } from './worker-spawn.js';

/** Bytes per piece when a snapshot's data is uploaded to the worker (one copy per turn). */
const UPLOAD_PIECE_BYTES = 1024 * 1024;

/** How long `close` waits for the worker to close the database before terminating it. */
const CLOSE_TIMEOUT_MS = 30_000;

type Body<R extends Request> = R extends Request ? Omit<R, 'id'> : never;

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * `SqliteWorkerLogStorage` is {@link SqliteLogStorage} run on a worker thread: the same durable,
 * crash-safe storage, the same database format and the same errors, but every SQLite statement
 * — the INSERTs of a save, SQLite's auto-checkpoints (a WAL copy and two fsyncs every ~1000
 * pages) and reads that miss the tail cache — runs on the worker, so none of it blocks the
 * event loop that runs Raft's timers and transports.
 *
 * The main thread keeps no database, only a table of pending calls: each call is one message
 * to the worker and one reply. Entries cross packed into one transferred buffer per call, and
 * snapshot data is uploaded in 1 MiB pieces, one per turn of the event loop.
 *
 * If the worker dies (an uncaught error, `terminate`), every pending and later call rejects
 * with `SqliteStorageError` reason `Failed`; reopen. `close()` closes the database and ends the
 * worker.
 */
export class SqliteWorkerLogStorage implements LogStorage {
  readonly #worker: Worker;
  readonly #path: string;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #nextBlob = 1;
  /** The latest staged snapshot: the caller's data object and the blob the worker holds for it. */
  #staged: { readonly data: Uint8Array; readonly blob: number; readonly index: Index } | null =
    null;
  #closing: Promise<void> | null = null;
  #failure: SqliteStorageError | undefined;
  /** The last error the worker reported before exiting, if any (becomes the failure's cause). */
  #workerError: unknown;

  /**
   * Start a worker thread and open (or create) the database at `options.path` in it. Takes the
   * same options and throws the same errors as {@link SqliteLogStorage.open}.
   */
  static async open(options: SqliteLogStorageOptions): Promise<SqliteWorkerLogStorage> {
    const storage = new SqliteWorkerLogStorage(spawnStorageWorker(), String(options.path));
    try {
      await storage.#call({ op: 'open', options: { ...options } });
    } catch (e) {
      await storage.#terminate();
      throw e;
    }
    return storage;
  }

  private constructor(worker: Worker, path: string) {
    this.#worker = worker;
    this.#path = path;
    // Idle, the worker must not keep the process alive (as a closed-over database would not);
    // a pending call refs it (see #call).
    worker.unref();
    worker.on('message', (r: Reply) => this.#onReply(r));
    worker.on('error', (e) => {
      this.#workerError = e;
    });
    worker.on('messageerror', (e) => {
      this.#workerError = e;
      void this.#worker.terminate();
    });
    worker.on('exit', (code) => this.#onExit(code));
  }

  /** The state to resume from (see {@link SqliteLogStorage.initialState}). */
  async initialState(): Promise<InitialState> {
    return (await this.#call({ op: 'initialState' })) as InitialState;
  }

  /** Entries in `[lo, hi)` (see {@link SqliteLogStorage.entries}); their data share one buffer. */
  async entries(lo: Index, hi: Index, maxBytes?: number): Promise<Entry[]> {
    const r = (await this.#call({ op: 'entries', lo, hi, maxBytes })) as {
      packed: ArrayBuffer;
      count: number;
    };
    return unpackEntries(r.packed, r.count);
  }

  /** The term of the entry at `index` (see {@link SqliteLogStorage.term}). */
  async term(index: Index): Promise<Term> {
    return (await this.#call({ op: 'term', index })) as Term;
  }

  /**
   * Apply one write in one SQLite transaction on the worker (see {@link SqliteLogStorage.save}).
   * The entries are copied into one buffer here (about 0.1 µs per 100-byte entry), which moves
   * to the worker without another copy.
   */
  async save(write: StorageWrite, sync: boolean): Promise<void> {
    this.#checkUsable();
    const entries = write.entries as readonly Entry[] | undefined;
    const packed = Array.isArray(entries) ? packEntries(entries) : undefined;
    let wire: WireWrite = {
      ...(packed === undefined
        ? { raw: entries as readonly unknown[] }
        : { packed, count: entries!.length }),
      ...(write.hardState === undefined ? {} : { hardState: write.hardState }),
      ...(write.confState === undefined ? {} : { confState: write.confState }),
    };
    const snap = write.snapshot;
    const transfer = packed === undefined ? [] : [packed];
    const staged = this.#staged;
    if (snap !== undefined && staged !== null && staged.data === snap.data) {
      try {
        await this.#call(
          {
            op: 'save',
            write: { ...wire, snapshotMeta: snap.meta, stagedBlob: staged.blob },
            sync,
          },
          transfer,
        );
      } catch (e) {
        if (!(e instanceof Error && e.name === STAGED_SNAPSHOT_GONE)) throw e;
        // Replaced by a newer stage meanwhile (nothing was written): send the data instead.
        this._restagedSaves++;
        // The entries' buffer moved with the first attempt, so pack them again.
        const again = packed === undefined ? undefined : packEntries(write.entries);
        await this.#call(
          {
            op: 'save',
            write: {
              ...wire,
              ...(again === undefined ? {} : { packed: again }),
              snapshotMeta: snap.meta,
              snapshotBlob: await this.#upload(snap.data),
            },
            sync,
          },
          again === undefined ? [] : [again],
        );
      }
    } else {
      if (snap !== undefined)
        wire = { ...wire, snapshotMeta: snap.meta, snapshotBlob: await this.#upload(snap.data) };
      await this.#call({ op: 'save', write: wire, sync }, transfer);
    }
    if (snap !== undefined && this.#staged !== null && this.#staged.index <= snap.meta.index)
      this.#staged = null;
  }

  /** Wait until entries ≤ `index` are deleted from the file (see {@link SqliteLogStorage.compact}). */
  async compact(index: Index): Promise<void> {
    await this.#call({ op: 'compact', index });
  }

  /** The latest snapshot, read on the worker and transferred (see {@link SqliteLogStorage.snapshot}). */
  async snapshot(): Promise<Snapshot | null> {
    return (await this.#call({ op: 'snapshot' })) as Snapshot | null;
  }

  /**
   * Write a snapshot's data ahead of the `save` that installs it (see
   * {@link SqliteLogStorage.stageSnapshot}). The data is copied to the worker in 1 MiB pieces,
   * one per turn of the event loop; the following `save` with the same `snapshot.data` object
   * sends only the metadata.
   */
  async stageSnapshot(snapshot: Snapshot): Promise<void> {
    this.#checkUsable();
    const blob = await this.#upload(snapshot.data);
    await this.#call({ op: 'stage', meta: snapshot.meta, blob });
    this.#staged = { data: snapshot.data, blob, index: snapshot.meta.index };
  }

  /**
   * Close the database (a clean shutdown, as {@link SqliteLogStorage.close}) and end the worker.
   * Idempotent; every other call afterwards throws `Closed`. If the worker does not finish
   * within 30 s it is terminated (every `save` that resolved is durable either way).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    let error: unknown;
    if (this.#failure === undefined) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SqliteStorageError('Io', `${this.#path}: close timed out`)),
          CLOSE_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([this.#send({ op: 'close' }), timeout]);
      } catch (e) {
        error = e;
      } finally {
        clearTimeout(timer);
      }
    }
    await this.#terminate();
    if (error !== undefined) throw error;
  }

  /**
   * Saves whose staged snapshot a newer stage had replaced on the worker, so that the data was
   * sent again (for tests).
   * @internal
   */
  _restagedSaves = 0;

  /**
   * Simulates the worker thread dying, for tests: terminates it without closing the database.
   * @internal
   */
  async _terminateWorker(): Promise<void> {
    await this.#worker.terminate();
  }

  // -------------------------------------------------------------------------------------------

  #checkUsable(): void {
    if (this.#closing !== null)
      throw new SqliteStorageError('Closed', `${this.#path}: storage is closed`);
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Send one request (after checking the storage is usable) and wait for its reply. */
  #call(body: Body<Request>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    try {
      this.#checkUsable();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#send(body, transfer);
  }

  #send(body: Body<Request>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
      try {
        this.#worker.postMessage({ ...body, id } as ToWorker, transfer);
      } catch (e) {
        // Not cloneable (a write holding a function, say): nothing reached the worker.
        this.#settle(id);
        reject(
          new SqliteStorageError('Io', `${this.#path}: cannot send the call to the worker`, {
            cause: e,
          }),
        );
      }
    });
  }

  /** Upload `data` to the worker in pieces, one per turn; returns its blob id. */
  async #upload(data: Uint8Array): Promise<number> {
    const blob = this.#nextBlob++;
    const size = data.byteLength;
    let offset = 0;
    do {
      this.#checkUsable();
      const end = Math.min(size, offset + UPLOAD_PIECE_BYTES);
      // A copy that owns its buffer (Buffer#slice would be a view into the caller's memory),
      // moved to the worker without a second copy (the transfer detaches it here).
      const bytes = Uint8Array.prototype.slice.call(data, offset, end);
      const piece: ToWorker = { op: 'blob', blob, size, offset, bytes };
      this.#worker.postMessage(piece, [bytes.buffer]);
      offset = end;
      if (offset < size) await nextTurn();
    } while (offset < size);
    return blob;
  }

  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (p === undefined) return undefined;
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
    return p;
  }

  #onReply(r: Reply): void {
    const p = this.#settle(r.id);
    if (p === undefined) return;
    if (r.ok) p.resolve(r.value);
    else p.reject(fromWire(r.error));
  }

  #onExit(code: number): void {
    const closed = this.#closing !== null;
    const err = closed
      ? new SqliteStorageError('Closed', `${this.#path}: storage is closed`)
      : new SqliteStorageError(
          'Failed',
          `${this.#path}: the storage worker thread exited (code ${code}); reopen the storage`,
          this.#workerError === undefined ? undefined : { cause: this.#workerError },
        );
    if (!closed) this.#failure ??= err;
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(err);
  }

  async #terminate(): Promise<void> {
    await this.#worker.terminate();
    // 'exit' has fired by now; anything still pending (it cannot be, but never hang) fails.
    this.#onExit(-1);
  }
}
