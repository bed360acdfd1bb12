import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { SqliteLogStorage, type SqliteLogStorageOptions } from '../src/index.js';
import { type LogStorageFactory, logStorageConformanceCases } from './support/core-testing.js';
import { TempDirs } from './support/temp-dirs.js';

const dirs = new TempDirs();
afterAll(() => dirs.removeAll());

function factory(tuning: Partial<SqliteLogStorageOptions>): LogStorageFactory {
  return async () => {
    const dir = await dirs.make();
    const options: SqliteLogStorageOptions = {
      path: join(dir, 'raft.db'),
      clusterId: 'c1',
      nodeId: 'n1',
      ...tuning,
    };
    let current = await SqliteLogStorage.open(options);
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = await SqliteLogStorage.open(options);
        return current;
      },
      cleanup: async () => {
        await current.close();
        await dirs.remove(dir);
      },
    };
  };
}

describe('SqliteLogStorage conformance (defaults)', () => {
  for (const c of logStorageConformanceCases(factory({}))) it(c.name, c.run);
});

// A tiny tail cache, tiny snapshot chunks and tiny compaction batches push every read through
// SQLite and every snapshot through many chunks.
describe('SqliteLogStorage conformance (tiny cache, chunks and batches)', () => {
  const tuning = {
    tailCacheEntries: 2,
    tailCacheBytes: 40,
    snapshotChunkBytes: 1000,
    compactionBatchRows: 3,
  };
  for (const c of logStorageConformanceCases(factory(tuning))) it(c.name, c.run);
});
