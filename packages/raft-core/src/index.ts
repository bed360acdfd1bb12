/**
 * Raft consensus as a pure, deterministic state machine ({@link RawNode}), the async driver
 * that runs it against storage, transport and a state machine ({@link RaftNode}), the ports
 * those implement, and the value types they exchange.
 *
 * @module index
 */
export { decodeConfChange, encodeConfChange } from './confchange/codec.js';
export type { RaftConfig } from './config.js';
export type { RateLimitOptions } from './driver/rate-limited-logger.js';
export { rateLimitedLogger } from './driver/rate-limited-logger.js';
export type { RaftErrorCode } from './errors.js';
export { FatalError, NotLeaderError, RaftError, RaftInvariantError } from './errors.js';
export type { LogFields, Logger } from './logger.js';
export { noopLogger } from './logger.js';
export type { NodeStatus, RaftNodeEvents, RaftNodeOptions } from './node.js';
export { RaftNode, systemClock } from './node.js';
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
export type { RaftState, ReadState } from './raft.js';
export type { PeerProgress, RawStatus, Ready, SoftState } from './raw-node.js';
export { RawNode } from './raw-node.js';
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
export { EMPTY_CONF_STATE, EMPTY_HARD_STATE, EntryType, MESSAGE_TYPES } from './types.js';
