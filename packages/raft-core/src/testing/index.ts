export { InvariantChecker, InvariantViolation, type NodeView } from './invariants/index.js';
export type {
  CheckOptions,
  CheckOutcome,
  CheckResult,
  KvHistory,
  KvInput,
  KvOperation,
  KvOutput,
  KvState,
  Model,
  Operation,
  PartitionResult,
  StepResult,
  Violation,
} from './linearizability/index.js';
export {
  checkOperations,
  DEFAULT_MAX_STEPS,
  kvModel,
} from './linearizability/index.js';
export {
  type LogStorageFactory,
  logStorageConformance,
  logStorageConformanceCases,
} from './log-storage-conformance.js';
export { MemoryLogStorage } from './memory-log-storage.js';
export { MemoryNetwork, MemoryTransport } from './memory-transport.js';
export { Rng } from './rng.js';
export {
  type ProposeOutcome,
  SimCluster,
  type SimClusterOptions,
  type SimNetworkOptions,
  type SimStats,
} from './sim-cluster.js';
export {
  type TransportFactory,
  transportConformance,
  transportConformanceCases,
} from './transport-conformance.js';
