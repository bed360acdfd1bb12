// HTTP client (src/client/, written separately)
export type { KvServerAnswer } from './client/errors.js';
export {
  KvCasFailedError,
  KvClientError,
  KvNotAppliedError,
  KvOutcomeUnknownError,
} from './client/errors.js';
export type { KvClientOptions, KvConsistency, KvWriteResult } from './client/kv-client.js';
export { KvClient } from './client/kv-client.js';
export type { CommandMeta, KvCommand, Session } from './command.js';
export { decodeKvCommand, encodeKvCommand } from './command.js';
export { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES, KvLimitError } from './errors.js';
export type { KvStateMachineOptions, MembersListener } from './kv-state-machine.js';
export { KvStateMachine } from './kv-state-machine.js';
export type { KvStoreOptions, ReadConsistency, WriteOptions } from './kv-store.js';
export { KvStore } from './kv-store.js';
export type { KvResult } from './result.js';
