/**
 * Core value types shared by every tsraft package: log entries, messages, persistent state.
 *
 * NB: `Term` and `Index` are plain number aliases, not branded types. Index arithmetic
 * (`next - 1`, `offset + i`) is pervasive in consensus code and branding would force a cast at
 * nearly every use; `NodeId` is a string, so it can never be confused with either.
 */

/** A Raft term (§5.1). Monotonically increasing; 0 means "no term yet". */
export type Term = number;
/** A log index (§5.3). The first real entry has index 1; 0 means "before the log". */
export type Index = number;
/** A node identifier, unique within a cluster and never reused for a different node. */
export type NodeId = string;

/** The kinds of log entry. */
export const EntryType = {
  /** Application data (or an empty no-op appended by a new leader, §8). */
  Normal: 0,
  /** A membership change: `data` is an encoded {@link ConfChange}. */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One log entry. `data` is opaque to raft-core (empty for the leader's no-op). */
export interface Entry {
  readonly index: Index;
  readonly term: Term;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be durable before a node answers any RPC (§5.1 Figure 2 "Persistent state"). */
export interface HardState {
  readonly term: Term;
  /** Candidate voted for in `term`, or null. */
  readonly vote: NodeId | null;
  /** Highest index known committed. Persisting it is an optimisation, never required for safety. */
  readonly commit: Index;
}

/** The membership configuration (thesis §4). `votersOutgoing` is non-empty only in a joint config. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Voters of the outgoing configuration while in joint consensus (thesis §4.3); else empty. */
  readonly votersOutgoing: readonly NodeId[];
  /** Learners that become learners once the joint configuration is left (they are outgoing voters). */
  readonly learnersNext: readonly NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  readonly autoLeave: boolean;
}

/** Where a snapshot sits in the log, and the configuration in force at that point. */
export interface SnapshotMeta {
  readonly index: Index;
  readonly term: Term;
  readonly confState: ConfState;
}

/** A state machine snapshot covering every entry up to and including `meta.index`. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** A requested membership change. */
export type ConfChangeOp = 'addVoter' | 'addLearner' | 'removeNode';
export interface ConfChangeSingle {
  readonly op: ConfChangeOp;
  readonly node: NodeId;
}
/**
 * A membership change. One single change uses the simple one-at-a-time protocol (thesis §4.1);
 * several changes (or `joint: true`) go through joint consensus (thesis §4.3).
 */
export interface ConfChange {
  readonly changes: readonly ConfChangeSingle[];
  readonly joint?: boolean;
  /**
   * Opaque application data that travels in the log with the change (as etcd-io/raft's
   * `ConfChange.Context`), e.g. a new member's network address. raft-core never reads it; every
   * node sees it when it applies the entry (`decodeConfChange(entry.data).context`).
   */
  readonly context?: string;
}

interface MsgBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Sender's current term. */
  readonly term: Term;
}

/** AppendEntries (§5.3). `index`/`logTerm` identify the entry preceding `entries`. */
export interface MsgApp extends MsgBase {
  readonly type: 'MsgApp';
  readonly index: Index;
  readonly logTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: Index;
}

/**
 * AppendEntries response. On success `index` is the last index now known to match.
 * On rejection, `index` is the rejected `MsgApp.index` and (`hintIndex`, `hintTerm`) point at the
 * follower's last entry whose term is ≤ the leader's `logTerm` at that index — the fast
 * backtracking hint (thesis §5.3 "conflict term/index", etcd's findConflictByTerm).
 */
export interface MsgAppResp extends MsgBase {
  readonly type: 'MsgAppResp';
  readonly index: Index;
  readonly reject: boolean;
  readonly hintIndex: Index;
  readonly hintTerm: Term;
}

/** RequestVote (§5.2) or a PreVote probe (thesis §9.6). `index`/`logTerm` describe the last entry. */
export interface MsgVote extends MsgBase {
  readonly type: 'MsgVote' | 'MsgPreVote';
  readonly index: Index;
  readonly logTerm: Term;
  /** Set when the election was triggered by leadership transfer (thesis §3.10). */
  readonly transfer: boolean;
}

export interface MsgVoteResp extends MsgBase {
  readonly type: 'MsgVoteResp' | 'MsgPreVoteResp';
  readonly reject: boolean;
}

/** Heartbeat: an empty AppendEntries carrying the commit index (capped at the follower's match). */
export interface MsgHeartbeat extends MsgBase {
  readonly type: 'MsgHeartbeat';
  readonly commit: Index;
  /** Opaque ReadIndex round id (0 when none). */
  readonly context: number;
}

export interface MsgHeartbeatResp extends MsgBase {
  readonly type: 'MsgHeartbeatResp';
  readonly context: number;
}

/** InstallSnapshot (thesis §5), sent as chunks of `data` at `offset`. */
export interface MsgSnap extends MsgBase {
  readonly type: 'MsgSnap';
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}

/** InstallSnapshot response: `offset` is the next byte wanted; `reject` restarts the transfer. */
export interface MsgSnapResp extends MsgBase {
  readonly type: 'MsgSnapResp';
  readonly index: Index;
  readonly offset: number;
  readonly reject: boolean;
}

/** Leadership transfer (thesis §3.10): start an election now, skipping PreVote and leases. */
export interface MsgTimeoutNow extends MsgBase {
  readonly type: 'MsgTimeoutNow';
}

/** A follower asks the leader for a read index (thesis §6.4). */
export interface MsgReadIndex extends MsgBase {
  readonly type: 'MsgReadIndex';
  readonly context: number;
}

/** The leader's answer: `index` is safe to read at once applied; `reject` if not leader. */
export interface MsgReadIndexResp extends MsgBase {
  readonly type: 'MsgReadIndexResp';
  readonly context: number;
  readonly index: Index;
  readonly reject: boolean;
}

/** Every message that travels between nodes. A discriminated union on `type`. */
export type Message =
  | MsgApp
  | MsgAppResp
  | MsgVote
  | MsgVoteResp
  | MsgHeartbeat
  | MsgHeartbeatResp
  | MsgSnap
  | MsgSnapResp
  | MsgTimeoutNow
  | MsgReadIndex
  | MsgReadIndexResp;

export type MessageType = Message['type'];

/** Every value of {@link MessageType}, for codecs and exhaustive tests. */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'MsgApp',
  'MsgAppResp',
  'MsgVote',
  'MsgPreVote',
  'MsgVoteResp',
  'MsgPreVoteResp',
  'MsgHeartbeat',
  'MsgHeartbeatResp',
  'MsgSnap',
  'MsgSnapResp',
  'MsgTimeoutNow',
  'MsgReadIndex',
  'MsgReadIndexResp',
];

/** A node's role. */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export const EMPTY_CONF_STATE: ConfState = Object.freeze({
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
});

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });
