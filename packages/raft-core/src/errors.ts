import type { NodeId } from './types.js';

const MARKER = Symbol.for('raft.error');

/** The stable codes of expected failures. Switch on `code`, never on the message text. */
export type RaftErrorCode =
  | 'ProposalDropped'
  | 'NotLeader'
  | 'Compacted'
  | 'Unavailable'
  | 'StepLocalMsg'
  | 'PeerNotFound'
  | 'Stopped'
  | 'Timeout'
  | 'OutcomeUnknown'
  | 'InvalidArgument'
  | 'ConfChangeInProgress'
  | 'LeadershipTransferInProgress'
  | 'Storage'
  | 'Transport'
  | 'StateMachine'
  | 'Internal';

/**
 * `RaftError` is the base of every expected failure surfaced by tsraft's APIs.
 * `RaftError.isInstance(e)` works across duplicate installs of the package.
 */
export class RaftError extends Error {
  /** What went wrong; stable across versions (see {@link RaftErrorCode}). */
  readonly code: RaftErrorCode;
  /**
   * Brand checked by {@link RaftError.isInstance}; a global symbol, so it survives duplicate
   * installs.
   */
  readonly [MARKER] = true;

  constructor(code: RaftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RaftError';
    this.code = code;
  }

  /** True if `e` is a `RaftError` (or a subclass) from any copy of raft-core. */
  static isInstance(e: unknown): e is RaftError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** The node is not the leader; `leaderHint` names the leader it believes in, if any. */
export class NotLeaderError extends RaftError {
  /** The node this node believes is the leader, or null if it knows none. */
  readonly leaderHint: NodeId | null;
  constructor(leaderHint: NodeId | null, why?: string) {
    super(
      'NotLeader',
      `not the leader${leaderHint === null ? '' : ` (leader is ${leaderHint})`}${why === undefined ? '' : `: ${why}`}`,
    );
    this.name = 'NotLeaderError';
    this.leaderHint = leaderHint;
  }
}

/** A port (storage, transport, state machine) failed; the node stops. */
export class FatalError extends RaftError {
  constructor(
    code: 'Storage' | 'Transport' | 'StateMachine' | 'Internal',
    message: string,
    cause: unknown,
  ) {
    super(code, message, { cause });
    this.name = 'FatalError';
  }
}

/** A broken internal invariant. Never caught inside raft-core; it ends the node. */
export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaftInvariantError';
  }
}

/** Throws {@link RaftInvariantError}. Used for "cannot happen" states (etcd's Panicf). */
export function panic(message: string): never {
  throw new RaftInvariantError(message);
}
