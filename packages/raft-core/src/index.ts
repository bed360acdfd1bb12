export { EntryType, EMPTY_CONF_STATE, EMPTY_HARD_STATE, MESSAGE_TYPES } from './types.js';
export type {
  ConfChange,
  ConfChangeOp,
  ConfChangeSingle,
  ConfState,
  Entry,
  HardState,
  Index,
  Message,
  MessageType,
  MsgApp,
  MsgAppResp,
  MsgHeartbeat,
  MsgHeartbeatResp,
  MsgReadIndex,
  MsgReadIndexResp,
  MsgSnap,
  MsgSnapResp,
  MsgTimeoutNow,
  MsgVote,
  MsgVoteResp,
  NodeId,
  Role,
  Snapshot,
  SnapshotMeta,
  Term,
} from './types.js';
export { FatalError, NotLeaderError, RaftError, RaftInvariantError } from './errors.js';
export type { RaftErrorCode } from './errors.js';
export { noopLogger } from './logger.js';
export type { LogFields, Logger } from './logger.js';
export type {
  Clock,
  InitialState,
  LogStorage,
  MessageHandler,
  StateMachine,
  StorageWrite,
  TimerHandle,
  Transport,
} from './ports.js';
