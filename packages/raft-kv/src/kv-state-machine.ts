/**
 * `KvStateMachine` is the replicated key-value map: it applies put/delete/cas commands from the
 * log, answers retried commands from client sessions (thesis §6.3), tracks members' addresses
 * from ConfChange entries, and takes point-in-time snapshots without pausing apply.
 */
import { decodeConfChange, type Entry, EntryType, RaftError, type StateMachine } from 'raft-core';
import { type CommandMeta, decodeKvCommand, type KvCommand } from './command.js';
import type { KvResult } from './result.js';
import { SessionTable } from './sessions.js';
import { readSnapshot, writeSnapshot } from './snapshot-format.js';
import { buildSorted, Cursor, SortedMap } from './sorted-map.js';

/** Bounds of a {@link KvStateMachine}; every replica must use the same values. */
export interface KvStateMachineOptions {
  /** Sessions idle for longer than this, in log time, are dropped. Default 3 600 000 (1 h). */
  sessionTtlMs?: number;
  /** Over this many sessions, the least recently used is dropped. Default 100 000. */
  maxSessions?: number;
  /** Over this many stored results in one session, the oldest is dropped. Default 256. */
  maxResultsPerSession?: number;
}

/** Called with node id → context (address) of the members, after they changed. */
export type MembersListener = (members: ReadonlyMap<string, string>) => void;

function positiveInt(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RaftError('InvalidArgument', `${name} must be a positive integer`);
  }
  return v;
}

/**
 * The key-value state machine. Plug it into a `RaftNode` as its `stateMachine`, and read from
 * it (`get`, `list`) after `node.read()` for linearizable reads.
 */
export class KvStateMachine implements StateMachine<KvResult> {
  private data = new SortedMap();
  private sessions: SessionTable;
  private members_ = new Map<string, string>();
  private readonly listeners = new Set<MembersListener>();
  private applied = 0;
  /** The largest leader timestamp applied so far. Invariant: never decreases. */
  private logTime = 0;

  constructor(options: KvStateMachineOptions = {}) {
    this.sessions = new SessionTable({
      ttlMs: positiveInt(options.sessionTtlMs, 3_600_000, 'sessionTtlMs'),
      maxSessions: positiveInt(options.maxSessions, 100_000, 'maxSessions'),
      maxResultsPerSession: positiveInt(options.maxResultsPerSession, 256, 'maxResultsPerSession'),
    });
  }

  /** Number of keys. */
  get size(): number {
    return this.data.size;
  }

  /** Index of the last applied entry (or of the restored snapshot). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** The log time: the largest proposer timestamp among the applied commands. */
  get time(): number {
    return this.logTime;
  }

  /** Number of live client sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Applies one committed entry. Never throws on entry content: an undecodable Normal entry
   * yields `{ ok: false, error: 'InvalidCommand' }`; empty entries (leader no-ops) and
   * ConfChange entries yield a neutral `{ ok: true, prev: null, current: null }`.
   *
   * Correctness:
   * - deterministic: the result and the new state depend only on the state and `entry`
   *   (time is the entries' leader timestamps, never a local clock);
   * - a command whose session already holds its seq's result is not applied again.
   */
  apply(entry: Entry): KvResult {
    this.applied = entry.index;
    if (entry.type === EntryType.ConfChange) {
      this.applyConfChange(entry.data);
      return { index: entry.index, ok: true, prev: null, current: null };
    }
    if (entry.data.length === 0) return { index: entry.index, ok: true, prev: null, current: null };
    let decoded: { cmd: KvCommand; meta: CommandMeta };
    try {
      decoded = decodeKvCommand(entry.data);
    } catch {
      return { index: entry.index, ok: false, prev: null, current: null, error: 'InvalidCommand' };
    }
    const { cmd, meta } = decoded;
    if (meta.time > this.logTime) this.logTime = meta.time;
    this.sessions.expire(this.logTime);
    const session = meta.session;
    if (session === undefined) return this.exec(entry.index, cmd);
    const s = this.sessions.touch(session.clientId, this.logTime);
    if (session.ack !== undefined) SessionTable.acknowledge(s, session.ack);
    const stored = s.results.get(session.seq);
    if (stored !== undefined) return { ...stored, duplicate: true };
    if (session.seq < s.floor) {
      return { index: entry.index, ok: false, prev: null, current: null, error: 'SessionExpired' };
    }
    const result = Object.freeze(this.exec(entry.index, cmd));
    this.sessions.record(s, session.seq, result);
    return result;
  }

  private exec(index: number, cmd: KvCommand): KvResult {
    switch (cmd.op) {
      case 'put': {
        const prev = this.data.set(cmd.key, cmd.value) ?? null;
        return { index, ok: true, prev, current: cmd.value };
      }
      case 'delete': {
        const prev = this.data.delete(cmd.key) ?? null;
        return { index, ok: prev !== null, prev, current: null };
      }
      case 'cas': {
        const prev = this.data.get(cmd.key) ?? null;
        if (prev !== cmd.from) return { index, ok: false, prev, current: prev };
        this.data.set(cmd.key, cmd.to);
        return { index, ok: true, prev, current: cmd.to };
      }
    }
  }

  private applyConfChange(data: Uint8Array): void {
    let cc: ReturnType<typeof decodeConfChange>;
    try {
      cc = decodeConfChange(data);
    } catch {
      return; // raft-core validated it when proposed; nothing to learn from a malformed one
    }
    let changed = false;
    for (const c of cc.changes) {
      if (c.op === 'removeNode') changed = this.members_.delete(c.node) || changed;
      else if (cc.context !== undefined && this.members_.get(c.node) !== cc.context) {
        this.members_.set(c.node, cc.context);
        changed = true;
      }
    }
    if (changed) this.notifyMembers();
  }

  /**
   * Starts a snapshot of the state at this call and resolves with its bytes.
   *
   * Correctness:
   * - the view (data, sessions, members, applied index, log time) is captured synchronously,
   *   in O(1) for the data (persistent tree) and O(sessions) for the session table; entries
   *   applied before the promise resolves are not in it;
   * - serialization yields to the event loop every 10 000 keys.
   */
  snapshot(): Promise<Uint8Array> {
    const frozen = this.data.freeze();
    return writeSnapshot(
      {
        appliedIndex: this.applied,
        logTime: this.logTime,
        members: this.members_,
        sessions: this.sessions,
      },
      frozen,
    );
  }

  /**
   * Replaces the whole state with a snapshot's.
   *
   * Correctness: validates magic, version, checksum and structure before changing anything;
   * a corrupt snapshot throws `RaftError('InvalidArgument')` and leaves the state unchanged.
   */
  restore(data: Uint8Array): void {
    const snap = readSnapshot(data);
    const sessions = new SessionTable(this.sessions.limits);
    sessions.load(snap.sessions);
    this.data = SortedMap.from(buildSorted(snap.keys, snap.vals));
    this.sessions = sessions;
    this.applied = snap.appliedIndex;
    this.logTime = snap.logTime;
    const before = this.members_;
    this.members_ = snap.members;
    if (!sameMap(before, snap.members)) this.notifyMembers();
  }

  /** The value of `key`, from this replica's applied state. */
  get(key: string): string | undefined {
    return this.data.get(key);
  }

  /**
   * Up to `limit` entries whose key starts with `prefix`, in key order (JavaScript string
   * order), starting after `after` when given; `more` says whether further matches exist.
   * O(log n + limit).
   */
  list(
    prefix: string,
    limit: number,
    after?: string,
  ): {
    /** The matching entries, in key order. */
    items: {
      /** The key. */
      key: string;
      /** Its value. */
      value: string;
    }[];
    /** True if more keys match after the last one returned (pass it as `after` to continue). */
    more: boolean;
  } {
    if (typeof prefix !== 'string')
      throw new RaftError('InvalidArgument', 'prefix must be a string');
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RaftError('InvalidArgument', 'limit must be a non-negative integer');
    }
    if (after !== undefined && typeof after !== 'string') {
      throw new RaftError('InvalidArgument', 'after must be a string');
    }
    const cur =
      after !== undefined && after >= prefix
        ? new Cursor(this.data.live(), after, true)
        : new Cursor(this.data.live(), prefix, false);
    const items: { key: string; value: string }[] = [];
    for (; cur.key?.startsWith(prefix) === true && items.length < limit; cur.next()) {
      items.push({ key: cur.key, value: cur.value });
    }
    return { items, more: cur.key?.startsWith(prefix) === true };
  }

  /** Node id → context (address) of the members added with one, from the applied log. */
  members(): ReadonlyMap<string, string> {
    return new Map(this.members_);
  }

  /**
   * Calls `listener` after an applied entry or a restore changed {@link members}. Returns an
   * unsubscribe function. Listener exceptions are swallowed (a throwing `apply` would stop
   * the node).
   */
  onMembersChange(listener: MembersListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private notifyMembers(): void {
    const view: ReadonlyMap<string, string> = new Map(this.members_);
    for (const l of [...this.listeners]) {
      try {
        l(view);
      } catch {
        // see onMembersChange
      }
    }
  }
}

function sameMap(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
