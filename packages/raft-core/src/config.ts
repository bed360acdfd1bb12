import { RaftError } from './errors.js';
import { type Logger, noopLogger } from './logger.js';
import type { NodeId } from './types.js';

/** Options of the pure core. Times are in ticks; the driver decides how long a tick is. */
export interface RaftConfig {
  /** This node's id. */
  readonly id: NodeId;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual timeout is
   * randomized in [electionTick, 2·electionTick) (§5.2). Must exceed `heartbeatTick`. Default 10.
   */
  readonly electionTick?: number;
  /** Ticks between leader heartbeats. Default 1. */
  readonly heartbeatTick?: number;
  /** PreVote (thesis §9.6): avoid disrupting a stable leader after a partition heals. Default true. */
  readonly preVote?: boolean;
  /**
   * CheckQuorum (thesis §6.2): a leader that has not heard from a quorum within an election
   * timeout steps down; followers ignore votes while they hear from a leader. Default true.
   */
  readonly checkQuorum?: boolean;
  /** Soft limit on the entry bytes in one MsgApp. Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Maximum un-acknowledged MsgApps per follower in the replicate state. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Maximum un-acknowledged entry bytes per follower (0 = unlimited). Default 32 MiB. */
  readonly maxInflightBytes?: number;
  /** Maximum bytes of committed entries handed out in one Ready. Default 16 MiB. */
  readonly maxCommittedSizePerReady?: number;
  /**
   * How ReadIndex confirms leadership (thesis §6.4):
   * - `'safe'` (default): a heartbeat round acknowledged by a quorum, for every read batch;
   * - `'lease'`: every heartbeat is a round; while fewer than `electionTick - 2` ticks have
   *   passed since the send of the latest round a quorum acknowledged, reads are answered at
   *   once (followers grant no vote within `electionTick` of a heartbeat, CheckQuorum). Requires
   *   `checkQuorum`. Safe only while clocks run at the same rate: with drift ρ between two nodes'
   *   tick rates, the lease is wrong once ρ·electionTick exceeds ~2 ticks. Use it only where
   *   that assumption is acceptable.
   */
  readonly readOnly?: 'safe' | 'lease';
  /** Bytes of snapshot data per MsgSnap. Default 256 KiB. */
  readonly snapshotChunkSize?: number;
  /** Unacknowledged snapshot chunks in flight per follower (flow control). Default 4. */
  readonly snapshotWindow?: number;
  /** Source of randomness in [0, 1). The pure core has no default: the driver injects one. */
  readonly random: () => number;
  /** Where the core logs. Default {@link noopLogger} (silent). */
  readonly logger?: Logger;
}

/** {@link RaftConfig} with defaults filled in and validated. */
export type ResolvedRaftConfig = Required<RaftConfig>;

export function resolveConfig(c: RaftConfig): ResolvedRaftConfig {
  const r: ResolvedRaftConfig = {
    id: c.id,
    electionTick: c.electionTick ?? 10,
    heartbeatTick: c.heartbeatTick ?? 1,
    preVote: c.preVote ?? true,
    checkQuorum: c.checkQuorum ?? true,
    maxSizePerMsg: c.maxSizePerMsg ?? 1024 * 1024,
    maxInflightMsgs: c.maxInflightMsgs ?? 256,
    maxInflightBytes: c.maxInflightBytes ?? 32 * 1024 * 1024,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? 16 * 1024 * 1024,
    readOnly: c.readOnly ?? 'safe',
    snapshotChunkSize: c.snapshotChunkSize ?? 256 * 1024,
    snapshotWindow: c.snapshotWindow ?? 4,
    random: c.random,
    logger: c.logger ?? noopLogger,
  };
  const bad = (msg: string): never => {
    throw new RaftError('InvalidArgument', msg);
  };
  if (typeof r.id !== 'string' || r.id.length === 0) bad('config.id must be a non-empty string');
  if (!Number.isInteger(r.heartbeatTick) || r.heartbeatTick <= 0)
    bad('heartbeatTick must be a positive integer');
  if (!Number.isInteger(r.electionTick) || r.electionTick <= r.heartbeatTick) {
    bad('electionTick must be an integer greater than heartbeatTick');
  }
  if (!Number.isInteger(r.maxInflightMsgs) || r.maxInflightMsgs <= 0)
    bad('maxInflightMsgs must be a positive integer');
  if (r.maxSizePerMsg <= 0) bad('maxSizePerMsg must be positive');
  if (typeof r.random !== 'function') bad('config.random must be a function');
  if (r.readOnly === 'lease' && !r.checkQuorum) bad("readOnly 'lease' requires checkQuorum");
  if (!Number.isInteger(r.snapshotChunkSize) || r.snapshotChunkSize <= 0)
    bad('snapshotChunkSize must be a positive integer');
  if (!Number.isInteger(r.snapshotWindow) || r.snapshotWindow <= 0)
    bad('snapshotWindow must be a positive integer');
  return r;
}
