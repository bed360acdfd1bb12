import type {
  ConfState,
  Entry,
  HardState,
  Index,
  Message,
  NodeId,
  Snapshot,
  SnapshotMeta,
  Term,
} from './types.js';

/** What a {@link LogStorage} holds when a node starts. */
export interface InitialState {
  /** The last durable term, vote and commit index (all zero/null for a new node). */
  readonly hardState: HardState;
  /** The configuration at the snapshot (or the bootstrap configuration); empty for a new node. */
  readonly confState: ConfState;
  /** Metadata of the latest snapshot, or null if none (the log then starts at index 1). */
  readonly snapshot: SnapshotMeta | null;
  /** Index of the first entry in the log (snapshot index + 1, or 1). */
  readonly firstIndex: Index;
  /** Index of the last entry in the log (the snapshot index when the log is empty). */
  readonly lastIndex: Index;
}

/** One durable write, produced from one `Ready`. Applied in the order snapshot → entries → hardState. */
export interface StorageWrite {
  /**
   * Install this snapshot first: discard every entry with index ≤ `snapshot.meta.index`; keep
   * the entries after it only if the stored entry at that index has the snapshot's term
   * (otherwise discard the whole log, thesis Figure 5.3). The conf state becomes the
   * snapshot's unless `confState` is given. A snapshot older than the current one is rejected.
   */
  readonly snapshot?: Snapshot;
  /**
   * Entries to append. `entries[0].index` may be ≤ the current last index: every stored entry
   * with index ≥ `entries[0].index` is replaced (a conflicting suffix is truncated).
   */
  readonly entries: readonly Entry[];
  /** The term, vote and commit index to record, last in the write. */
  readonly hardState?: HardState;
  /** The conf state to record (at bootstrap or with a snapshot). */
  readonly confState?: ConfState;
}

/**
 * `LogStorage` is the durable home of a node's log, hard state, configuration and snapshot.
 * raft-core keeps the log since the last snapshot in memory; storage is read at start-up
 * (`initialState`, `entries`) and written once per `Ready` (`save`).
 */
export interface LogStorage {
  /**
   * The state to resume from.
   *
   * Correctness:
   * - reflects every `save` whose promise resolved (with `sync`), and nothing half-written;
   * - `firstIndex = snapshot.index + 1` (or 1), `lastIndex ≥ firstIndex - 1`.
   */
  initialState(): Promise<InitialState>;

  /**
   * Entries with index in `[lo, hi)`, in order, stopping before the total `data` size exceeds
   * `maxBytes` (at least one entry is always returned when the range is non-empty).
   *
   * Correctness:
   * - throws `RaftError('Compacted')` if `lo < firstIndex`; throws if `hi > lastIndex + 1`;
   * - no holes: `result[i].index === lo + i`.
   */
  entries(lo: Index, hi: Index, maxBytes?: number): Promise<Entry[]>;

  /**
   * The term of the entry at `index`; the snapshot's term at the snapshot index.
   *
   * Correctness: throws `RaftError('Compacted')` below the snapshot index.
   */
  term(index: Index): Promise<Term>;

  /**
   * Durably apply one write (see {@link StorageWrite}).
   *
   * Correctness:
   * - when `sync` is true, everything in `write` is durable (fsynced) before the promise resolves;
   * - atomic: after a crash the storage reflects either all of `write` or none of it;
   * - entries at index ≥ `write.entries[0].index` that were stored before are discarded;
   * - no holes: the log stays contiguous from `firstIndex` to `lastIndex`;
   * - calls are issued one at a time, in order (the driver never overlaps them);
   * - the storage must not keep references to the caller's buffers (copy them if it needs to);
   * - a write that would leave a hole is rejected with `RaftError('InvalidArgument')` and
   *   changes nothing; entries below the new first index are skipped.
   */
  save(write: StorageWrite, sync: boolean): Promise<void>;

  /**
   * Discard entries with index ≤ `index` (log compaction behind a snapshot already saved).
   *
   * Correctness: `index` ≤ the latest snapshot's index; `term(index)` keeps answering for the
   * snapshot index itself.
   */
  compact(index: Index): Promise<void>;

  /** The latest snapshot saved, or null. */
  snapshot(): Promise<Snapshot | null>;

  /**
   * Optional: write a snapshot's data ahead of the `save({ snapshot })` that installs it, while
   * other calls (log saves) go on. The driver calls it for snapshots it takes itself and for those
   * it receives from the leader, outside the one-at-a-time order of `save` (it may overlap a
   * log save or another staging), so that saving a large snapshot does not hold up the log;
   * the following `save` with the same `snapshot` object then only has to commit the metadata.
   *
   * Correctness: until that `save` resolves, the staged data is not part of the durable state
   * (`snapshot()` and `initialState()` do not see it, and a crash forgets it); the storage may
   * read `snapshot.data` until the promise settles. A storage without it just gets the `save`.
   */
  stageSnapshot?(snapshot: Snapshot): Promise<void>;

  /** Release resources. Further calls may throw. */
  close(): Promise<void>;
}

/** Receives every message addressed to this node. */
export type MessageHandler = (message: Message) => void;

/**
 * `Transport` carries messages between nodes. Fire-and-forget: Raft tolerates loss,
 * duplication and reordering, so a transport may drop under pressure rather than grow buffers.
 */
export interface Transport {
  /**
   * Start delivering inbound messages to `handler`.
   *
   * Correctness: only messages whose `to` is this node are delivered; the handler is never
   * called after `stop()` resolves.
   */
  start(handler: MessageHandler): Promise<void>;

  /**
   * Queue `messages` for `to`. Never throws for an unreachable peer (the messages are dropped).
   *
   * Correctness: never delivers a message that was not sent (no corruption); bounded memory.
   */
  send(to: NodeId, messages: readonly Message[]): void;

  /** Stop sending and receiving; release sockets and timers. */
  stop(): Promise<void>;
}

/**
 * `StateMachine` is the replicated application. Entries are applied in log order, exactly once
 * per process lifetime after `restore` (or from index 1).
 */
export interface StateMachine<R = unknown> {
  /**
   * Apply one committed entry and return its result (handed to the proposer on this node).
   * Empty no-op entries from new leaders and membership entries are applied too (their `type`
   * says which); a state machine usually ignores them.
   *
   * Correctness: deterministic — every replica must reach the same state from the same entries.
   */
  apply(entry: Entry): R | Promise<R>;
  /**
   * Serialize the state: everything applied so far, and nothing applied later.
   *
   * The driver calls it right after applying the entry the snapshot covers, and does not wait
   * for the returned promise before applying further entries (snapshots are taken off the Ready
   * loop, so replication and commits go on meanwhile).
   *
   * Correctness:
   * - the bytes describe exactly the state at the moment of the call, even when the promise
   *   resolves after later `apply` calls: capture a point-in-time view synchronously (a
   *   persistent or copy-on-write structure) and serialize it afterwards;
   * - `restore(bytes)` on any replica yields that same state.
   */
  snapshot(): Uint8Array | Promise<Uint8Array>;
  /** Replace the whole state with a snapshot's. */
  restore(data: Uint8Array): void | Promise<void>;
}

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** `Clock` drives the driver's ticks. Tests and the simulator pass a fake one. */
export interface Clock {
  /** Calls `fn` every `ms` milliseconds until cleared; returns a handle for `clearInterval`. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Stops the timer `handle` (no further calls after it returns). */
  clearInterval(handle: TimerHandle): void;
  /** Milliseconds since an arbitrary origin (monotonic). */
  now(): number;
}
