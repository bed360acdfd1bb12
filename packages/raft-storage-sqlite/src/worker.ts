/**
 * The worker thread of {@link SqliteWorkerLogStorage}: owns one real {@link SqliteLogStorage},
 * so that every SQLite statement (and SQLite's auto-checkpoints inside commits) runs here, never
 * on the main thread's event loop. It answers the requests of worker-protocol.ts.
 */
import { parentPort } from 'node:worker_threads';
import type { Entry, Snapshot } from 'raft-core';
import { SqliteStorageError } from './errors.js';
import { SqliteLogStorage } from './sqlite-log-storage.js';
import {
  packEntries,
  type Reply,
  type Request,
  rawWrite,
  STAGED_SNAPSHOT_GONE,
  type ToWorker,
  toWire,
  unpackEntries,
  type WireWrite,
} from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('raft-storage-sqlite: worker.js must run in a worker thread');

let storage: SqliteLogStorage | undefined;
/** Uploaded byte arrays being assembled, by blob id. */
const blobs = new Map<number, Uint8Array>();
/** The data of the latest successful stageSnapshot, by its blob id (see WireWrite.stagedBlob). */
let staged: { readonly blob: number; readonly snapshot: Snapshot } | null = null;

class StagedSnapshotGone extends Error {
  constructor() {
    super('the staged snapshot was replaced');
    this.name = STAGED_SNAPSHOT_GONE;
  }
}

function reply(r: Reply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(r, transfer);
}

function open(): SqliteLogStorage {
  if (storage === undefined) throw new SqliteStorageError('Closed', 'storage is not open');
  return storage;
}

function takeBlob(id: number | undefined): Uint8Array {
  const data = id === undefined ? undefined : blobs.get(id);
  if (id === undefined || data === undefined)
    throw new SqliteStorageError('Failed', `snapshot data ${String(id)} never arrived`);
  blobs.delete(id);
  return data;
}

async function save(w: WireWrite, sync: boolean): Promise<void> {
  const entries: readonly Entry[] =
    w.packed !== undefined ? unpackEntries(w.packed, w.count ?? 0) : (w.raw as readonly Entry[]);
  let data: Uint8Array | undefined;
  if (w.stagedBlob !== undefined) {
    // A newer stage may have replaced it since the main thread sent this save: it then sends
    // the data itself (the real storage would also write the data in full then).
    if (staged?.blob !== w.stagedBlob) throw new StagedSnapshotGone();
    data = staged.snapshot.data;
  } else if (w.snapshotMeta !== undefined) data = takeBlob(w.snapshotBlob);
  const write = rawWrite(w, entries, data);
  await open().save(write, sync);
  // The real storage forgets a staged snapshot once one at or above its index is installed.
  const index = write.snapshot?.meta.index;
  if (staged !== null && index !== undefined && staged.snapshot.meta.index <= index) staged = null;
}

async function handle(req: Request): Promise<void> {
  try {
    switch (req.op) {
      case 'open':
        storage = await SqliteLogStorage.open(req.options);
        return reply({ id: req.id, ok: true });
      case 'initialState':
        return reply({ id: req.id, ok: true, value: await open().initialState() });
      case 'entries': {
        const out = await open().entries(req.lo, req.hi, req.maxBytes);
        const packed = packEntries(out)!;
        return reply({ id: req.id, ok: true, value: { packed, count: out.length } }, [packed]);
      }
      case 'term':
        return reply({ id: req.id, ok: true, value: await open().term(req.index) });
      case 'save':
        await save(req.write, req.sync);
        return reply({ id: req.id, ok: true });
      case 'compact':
        await open().compact(req.index);
        return reply({ id: req.id, ok: true });
      case 'snapshot': {
        const snap = await open().snapshot();
        if (snap === null) return reply({ id: req.id, ok: true, value: null });
        // Transfer the bytes when they own their buffer; a view into a larger one is copied.
        const d = snap.data;
        const own = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength;
        const data = own ? d : Uint8Array.prototype.slice.call(d);
        return reply({ id: req.id, ok: true, value: { meta: snap.meta, data } }, [
          data.buffer as ArrayBuffer,
        ]);
      }
      case 'stage': {
        const snapshot = { meta: req.meta as Snapshot['meta'], data: takeBlob(req.blob) };
        await open().stageSnapshot(snapshot);
        staged = { blob: req.blob, snapshot };
        return reply({ id: req.id, ok: true });
      }
      case 'close':
        await storage?.close();
        staged = null;
        blobs.clear();
        return reply({ id: req.id, ok: true });
    }
  } catch (e) {
    reply({ id: req.id, ok: false, error: toWire(e) });
  }
}

port.on('message', (m: ToWorker) => {
  if (m.op === 'blob') {
    let buf = blobs.get(m.blob);
    if (buf === undefined) {
      buf = m.offset === 0 && m.bytes.byteLength === m.size ? m.bytes : new Uint8Array(m.size);
      blobs.set(m.blob, buf);
    }
    if (buf !== m.bytes) buf.set(m.bytes, m.offset);
    return;
  }
  void handle(m);
});
