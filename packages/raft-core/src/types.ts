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
/** The kind of a log entry: one of the values of {@link EntryType}. */
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One log entry. `data` is opaque to raft-core (empty for the leader's no-op). */
export interface Entry {
  /** Its position in the log (the first entry has index 1). */
  readonly index: Index;
  /** The term of the leader that created it. */
  readonly term: Term;
  /** Whether it carries application data or a membership change. */
  readonly type: EntryType;
  /** The payload: application data, or an encoded {@link ConfChange}. */
  readonly data: Uint8Array;
}

/** State that must be durable before a node answers any RPC (§5.1 Figure 2 "Persistent state"). */
export interface HardState {
  /** The latest term this node has seen. */
  readonly term: Term;
  /** Candidate voted for in `term`, or null. */
  readonly vote: NodeId | null;
  /** Highest index known committed. Persisting it is an optimisation, never required for safety. */
  readonly commit: Index;
}

/** The membership configuration (thesis §4). `votersOutgoing` is non-empty only in a joint config. */
export interface ConfState {
  /** Members whose votes count for elections and commitment. */
  readonly voters: readonly NodeId[];
  /** Members that receive the log but do not vote (catching up, thesis §4.2.1). */
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
  /** The last log index the snapshot covers. */
  readonly index: Index;
  /** The term of the entry at `index`. */
  readonly term: Term;
  /** The configuration in force at `index`. */
  readonly confState: ConfState;
}

/** A state machine snapshot covering every entry up to and including `meta.index`. */
export interface Snapshot {
  /** Where the snapshot sits in the log. */
  readonly meta: SnapshotMeta;
  /** The state machine's serialized state ({@link StateMachine.snapshot}). */
  readonly data: Uint8Array;
}

/** A requested membership change. */
export type ConfChangeOp = 'addVoter' | 'addLearner' | 'removeNode';
/** One step of a {@link ConfChange}: add a voter or a learner, or remove a node. */
export interface ConfChangeSingle {
  /** What to do with `node`. */
  readonly op: ConfChangeOp;
  /** The member the step applies to. */
  readonly node: NodeId;
}
/**
 * A membership change. One single change uses the simple one-at-a-time protocol (thesis §4.1);
 * several changes (or `joint: true`) go through joint consensus (thesis §4.3).
 */
export interface ConfChange {
  /** The steps, applied together. */
  readonly changes: readonly ConfChangeSingle[];
  /** Force joint consensus even for a single step (thesis §4.3). */
  readonly joint?: boolean;
  /**
   * Opaque application data that travels in the log with the change (as etcd-io/raft's
   * `ConfChange.Context`), e.g. a new member's network address. raft-core never reads it; every
   * node sees it when it applies the entry (`decodeConfChange(entry.data).context`).
   */
  readonly context?: string;
}

interface MsgBase {
  /** The sender. */
  readonly from: NodeId;
  /** The addressee. */
  readonly to: NodeId;
  /** Sender's current term. */
  readonly term: Term;
}

/** AppendEntries (§5.3). `index`/`logTerm` identify the entry preceding `entries`. */
export interface MsgApp extends MsgBase {
  /** Discriminant. */
  readonly type: 'MsgApp';
  /** Index of the entry just before `entries`. */
  readonly index: Index;
  /** Term of the entry at `index`. */
  readonly logTerm: Term;
  /** The entries to append (empty for a probe). */
  readonly entries: readonly Entry[];
  /** The leader's commit index. */
  readonly commit: Index;
}

/**
 * AppendEntries response. On success `index` is the last index now known to match.
 * On rejection, `index` is the rejected `MsgApp.index` and (`hintIndex`, `hintTerm`) point at the
 * follower's last entry whose term is ≤ the leader's `logTerm` at that index — the fast
 * backtracking hint (thesis §5.3 "conflict term/index", etcd's findConflictByTerm).
 */
export interface MsgAppResp extends MsgBase {
  /** Discriminant. */
  readonly type: 'MsgAppResp';
  /** On success the last matching index; on rejection the rejected `MsgApp.index`. */
  readonly index: Index;
  /** True if the follower's log did not match at `MsgApp.index`. */
  readonly reject: boolean;
  /** On rejection: the follower's last index whose term is ≤ the leader's `logTerm` there. */
  readonly hintIndex: Index;
  /** On rejection: the term of the entry at `hintIndex`. */
  readonly hintTerm: Term;
}

/** RequestVote (§5.2) or a PreVote probe (thesis §9.6). `index`/`logTerm` describe the last entry. */
export interface MsgVote extends MsgBase {
  /** Discriminant: a real vote or a PreVote probe. */
  readonly type: 'MsgVote' | 'MsgPreVote';
  /** Index of the candidate's last entry. */
  readonly index: Index;
  /** Term of the candidate's last entry. */
  readonly logTerm: Term;
  /** Set when the election was triggered by leadership transfer (thesis §3.10). */
  readonly transfer: boolean;
}

/** The answer to a {@link MsgVote}: a granted or rejected (pre-)vote. */
export interface MsgVoteResp extends MsgBase {
  /** Discriminant, matching the request's kind. */
  readonly type: 'MsgVoteResp' | 'MsgPreVoteResp';
  /** True if the vote was refused. */
  readonly reject: boolean;
}

/** Heartbeat: an empty AppendEntries carrying the commit index (capped at the follower's match). */
export interface MsgHeartbeat extends MsgBase {
  /** Discriminant. */
  readonly type: 'MsgHeartbeat';
  /** The leader's commit index, capped at the follower's match index. */
  readonly commit: Index;
  /** Opaque ReadIndex round id (0 when none). */
  readonly context: number;
}

/** The answer to a {@link MsgHeartbeat}; it confirms leadership for ReadIndex rounds. */
export interface MsgHeartbeatResp extends MsgBase {
  /** Discriminant. */
  readonly type: 'MsgHeartbeatResp';
  /** The heartbeat's ReadIndex round id, echoed. */
  readonly context: number;
}

/** InstallSnapshot (thesis §5), sent as chunks of `data` at `offset`. */
export interface MsgSnap extends MsgBase {
  /** Discriminant. */
  readonly type: 'MsgSnap';
  /** The snapshot's position and configuration. */
  readonly meta: SnapshotMeta;
  /** Byte offset of `data` within the snapshot. */
  readonly offset: number;
  /** Size of the whole snapshot. */
  readonly totalBytes: number;
  /** This chunk's bytes. */
  readonly data: Uint8Array;
  /** True on the last chunk. */
  readonly done: boolean;
}

/** InstallSnapshot response: `offset` is the next byte wanted; `reject` restarts the transfer. */
export interface MsgSnapResp extends MsgBase {
  /** Discriminant. */
  readonly type: 'MsgSnapResp';
  /** The snapshot's index, identifying the transfer. */
  readonly index: Index;
  /** The next byte wanted. */
  readonly offset: number;
  /** True to restart the transfer from the beginning. */
  readonly reject: boolean;
}

/** Leadership transfer (thesis §3.10): start an election now, skipping PreVote and leases. */
export interface MsgTimeoutNow extends MsgBase {
  /** Discriminant. */
  readonly type: 'MsgTimeoutNow';
}

/** A follower asks the leader for a read index (thesis §6.4). */
export interface MsgReadIndex extends MsgBase {
  /** Discriminant. */
  readonly type: 'MsgReadIndex';
  /** The follower's id for this read round, echoed in the answer. */
  readonly context: number;
}

/** The leader's answer: `index` is safe to read at once applied; `reject` if not leader. */
export interface MsgReadIndexResp extends MsgBase {
  /** Discriminant. */
  readonly type: 'MsgReadIndexResp';
  /** The request's round id, echoed. */
  readonly context: number;
  /** The commit index at the time leadership was confirmed. */
  readonly index: Index;
  /** True if the receiver is not the leader (retry elsewhere). */
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

/** The `type` of any {@link Message}. */
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

/** The configuration of a node that belongs to no cluster yet. */
export const EMPTY_CONF_STATE: ConfState = Object.freeze({
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
});

/** The hard state of a brand-new node: term 0, no vote, nothing committed. */
export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });
