export type { Entry } from 'raft-core';
export { KvStateMachine, type KvStateMachineOptions } from '../../src/index.js';
