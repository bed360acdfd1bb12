export type { SqliteStorageErrorReason } from './errors.js';
export { SqliteStorageError } from './errors.js';
export { APPLICATION_ID, SCHEMA_VERSION } from './schema.js';
export type { SqliteLogStorageOptions } from './sqlite-log-storage.js';
export { SqliteLogStorage } from './sqlite-log-storage.js';
export { SqliteWorkerLogStorage } from './worker-log-storage.js';
