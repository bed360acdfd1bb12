import type { LogStorage } from 'raft-core';
import { SqliteLogStorage, SqliteWorkerLogStorage } from 'raft-storage-sqlite';

/**
 * `openSqlite` opens a node's SQLite storage with the database on the event loop's thread
 * (`SqliteLogStorage`) or on a worker thread (`SqliteWorkerLogStorage`, `--sqlite-thread worker`).
 */
export function openSqlite(
  thread: 'main' | 'worker',
  path: string,
  nodeId: string,
  checkpointPages?: number,
): Promise<LogStorage> {
  const options = {
    path,
    clusterId: 'stress',
    nodeId,
    ...(checkpointPages !== undefined && { checkpointPages }),
  };
  return thread === 'worker'
    ? SqliteWorkerLogStorage.open(options)
    : SqliteLogStorage.open(options);
}
