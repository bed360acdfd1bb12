export type {
  CheckOptions,
  CheckOutcome,
  CheckResult,
  PartitionResult,
  Violation,
} from './checker.js';
export { checkOperations, DEFAULT_MAX_STEPS } from './checker.js';
export type {
  KvCas,
  KvDelete,
  KvGet,
  KvHistory,
  KvInput,
  KvOperation,
  KvOutput,
  KvPut,
  KvState,
} from './kv-model.js';
export { kvModel } from './kv-model.js';
export type { Model, Operation, StepResult } from './model.js';
