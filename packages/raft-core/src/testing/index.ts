/**
 * `raft-core/testing`: in-memory storage and transport, a deterministic cluster simulator with
 * invariant checks, conformance suites for storage and transport implementations, and a
 * linearizability checker.
 *
 * @module testing
 */
export { InvariantChecker, InvariantViolation, type NodeView } from './invariants/index.js';
export type { ResendChoice } from './leader-resend.js';
export type {
  CheckOptions,
  CheckOutcome,
  CheckResult,
  KvCas,
  KvDelete,
  KvGet,
  KvHistory,
  KvInput,
  KvOperation,
  KvOutput,
  KvPut,
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
  type LogStorageConformanceCase,
  type LogStorageFactory,
  logStorageConformance,
  logStorageConformanceCases,
} from './log-storage-conformance.js';
export { MemoryLogStorage } from './memory-log-storage.js';
export {
  MemoryNetwork,
  type MemoryNetworkOptions,
  MemoryTransport,
} from './memory-transport.js';
export { Rng } from './rng.js';
export {
  type ProposeOutcome,
  SimCluster,
  type SimClusterOptions,
  type SimNetworkOptions,
  type SimStats,
} from './sim-cluster.js';
export {
  type TransportConformanceCase,
  type TransportFactory,
  type TransportHarness,
  transportConformance,
  transportConformanceCases,
} from './transport-conformance.js';
