/**
 * The JSON schema of kvapi's observability routes, as TypeScript types: `GET /status` and the
 * `/events` stream (Server-Sent Events) share it, and the dashboard (`src/ui/`) imports it too,
 * so the three cannot drift apart. Types only: this file imports nothing.
 */

/** One member of the configuration, with the addresses this node knows for it. */
export interface StatusMember {
  readonly id: string;
  readonly role: 'voter' | 'learner';
  readonly http: string | null;
  readonly peer: string | null;
}

/** The leader's view of another member's replication (empty on other roles). */
export interface StatusPeer {
  readonly id: string;
  readonly match: number;
  readonly next: number;
  /** `probe`, `replicate` or `snapshot` (a snapshot is being sent). */
  readonly state: string;
  /** Heard from within the last election timeout (CheckQuorum's notion of reachable). */
  readonly active: boolean;
  readonly learner: boolean;
  /** Appends sent and not acknowledged yet, and their bytes. */
  readonly inflight: number;
  readonly inflightBytes: number;
  /** The index of the snapshot being sent, in state `snapshot` (else 0). */
  readonly pendingSnapshot: number;
}

/** This node's own counters since it started (the dashboard turns them into rates). */
export interface StatusCounters {
  /** Writes this node proposed that were applied. */
  readonly writesOk: number;
  /** Writes this node proposed that failed (rejected, not applied, or unknown outcome). */
  readonly writesFailed: number;
  /** Sum of commit latencies (propose → applied here) of `writesOk`, in milliseconds. */
  readonly commitLatencyMsSum: number;
  /** Milliseconds since this process started (so rates survive clock changes). */
  readonly uptimeMs: number;
}

/** `GET /status`. */
export interface StatusJson {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly leaderHttp: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly members: readonly StatusMember[];
  readonly jointOutgoing: readonly string[];
  readonly peers: readonly StatusPeer[];
  readonly http: string;
  readonly peer: string | null;
  readonly keys: number;
  readonly membersFromLog: Readonly<Record<string, unknown>>;
  readonly transport: unknown;
  readonly counters: StatusCounters;
  readonly stopped: boolean;
}

export type ClusterEventKind =
  | 'election'
  | 'leader'
  | 'role'
  | 'membership'
  | 'snapshot'
  | 'down'
  | 'up';

export type ElectionReason = 'timeout' | 'transfer' | 'prevote-lost' | 'lost' | 'won';

/** One entry of the timeline: `data` of an `event` SSE event. */
export interface ClusterEvent {
  /** Increasing per observer; resets when that process restarts. */
  readonly seq: number;
  /** Milliseconds since the epoch, by the observer's clock. */
  readonly at: number;
  /** The node that saw it happen. */
  readonly node: string;
  readonly kind: ClusterEventKind;
  /** The observer's term when it happened. */
  readonly term: number;
  /** One line for humans, in raft-core's log style ("2 became leader at term 5"). */
  readonly text: string;
  /** `election` only. */
  readonly reason?: ElectionReason;
  /** The member the event is about (`down`/`up`, a snapshot's target, a new leader). */
  readonly subject?: string;
  /** `snapshot`: the snapshot's last index. */
  readonly index?: number;
  /** `snapshot`: its size, when known. */
  readonly bytes?: number;
}

/** `data` of a `reach` SSE event. */
export interface Reachability {
  readonly id: string;
  readonly reachable: boolean;
  /** Milliseconds since the epoch of the last change. */
  readonly since: number;
  /** Why it is unreachable (connection error, HTTP status, silence). */
  readonly error?: string;
}

/** `data` of the `hello` SSE event, sent once when a stream opens. */
export interface Hello {
  readonly node: string;
  readonly scope: 'cluster' | 'local';
  readonly intervalMs: number;
  /** The shortest election timeout of this node (raft-core's `electionTick` ticks). */
  readonly electionTimeoutMs: number;
}
