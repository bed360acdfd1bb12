export { MemoryLogStorage } from './memory-log-storage.js';
export {
  logStorageConformance,
  logStorageConformanceCases,
  type LogStorageFactory,
} from './log-storage-conformance.js';
export { MemoryNetwork, MemoryTransport } from './memory-transport.js';
export {
  transportConformance,
  transportConformanceCases,
  type TransportFactory,
} from './transport-conformance.js';
