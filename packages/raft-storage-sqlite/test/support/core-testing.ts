/**
 * raft-core's test kit, re-exported in one place for this package's tests.
 */
export {
  type LogStorageFactory,
  logStorageConformanceCases,
  MemoryLogStorage,
} from 'raft-core/testing';
