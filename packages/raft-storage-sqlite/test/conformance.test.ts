import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import type { SqliteLogStorageOptions } from '../src/index.js';
import { type LogStorageFactory, logStorageConformanceCases } from './support/core-testing.js';
import { openOn, type Thread } from './support/modes.js';
import { TempDirs } from './support/temp-dirs.js';

const dirs = new TempDirs();
afterAll(() => dirs.removeAll());

function factory(thread: Thread, tuning: Partial<SqliteLogStorageOptions>): LogStorageFactory {
  return async () => {
    const dir = await dirs.make();
    const options: SqliteLogStorageOptions = {
      path: join(dir, 'raft.db'),
      clusterId: 'c1',
      nodeId: 'n1',
      ...tuning,
    };
    let current = await openOn(thread, options);
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = await openOn(thread, options);
        return current;
      },
      cleanup: async () => {
        await current.close();
        await dirs.remove(dir);
      },
    };
  };
}

const TINY = {
  tailCacheEntries: 2,
  tailCacheBytes: 40,
  snapshotChunkBytes: 1000,
  compactionBatchRows: 3,
};

describe('SqliteLogStorage conformance (defaults)', () => {
  for (const c of logStorageConformanceCases(factory('main', {}))) it(c.name, c.run);
});

// A tiny tail cache, tiny snapshot chunks and tiny compaction batches push every read through
// SQLite and every snapshot through many chunks.
describe('SqliteLogStorage conformance (tiny cache, chunks and batches)', () => {
  for (const c of logStorageConformanceCases(factory('main', TINY))) it(c.name, c.run);
});

// The worker thread runs the same class behind a message channel; the tiny tuning sends every
// read through SQLite's pages (entries that are views into shared buffers) and every snapshot
// through many chunks, the paths where packing for the channel could go wrong. (Each worker
// takes a few hundred ms to start from sources, so one tuning only.)
describe('SqliteWorkerLogStorage conformance (worker thread, tiny cache, chunks and batches)', () => {
  for (const c of logStorageConformanceCases(factory('worker', TINY))) it(c.name, c.run);
});
