/**
 * Client sessions (thesis §6.3): per client, the results of recently applied commands, so a
 * retried command is answered from the table instead of being applied twice.
 *
 * Everything here is a function of the applied entries only: time is the log's time (the
 * largest leader timestamp applied so far), never a local clock, and eviction orders are
 * insertion orders of `Map`s, so every replica holds the same table.
 */
import type { KvResult } from './result.js';

/** One client's session. */
export interface SessionRecord {
  /** Log time of the session's last command. */
  lastActive: number;
  /**
   * Results of seqs below `floor` were discarded (acknowledged by the client or evicted).
   * Invariant: never decreases.
   */
  floor: number;
  /** seq → result, in the order the commands were applied (oldest first). */
  readonly results: Map<number, KvResult>;
}

/** Bounds on the session table. */
export interface SessionLimits {
  readonly ttlMs: number;
  readonly maxSessions: number;
  readonly maxResultsPerSession: number;
}

/**
 * `SessionTable` keeps sessions in least-recently-used order (the `Map`'s insertion order: a
 * touched session is re-inserted at the end).
 *
 * Invariant: `lastActive` is non-decreasing along that order, because a touch stamps the log
 * time, which never decreases; so expiry only ever needs to look at the front.
 */
export class SessionTable {
  readonly sessions = new Map<string, SessionRecord>();

  constructor(readonly limits: SessionLimits) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Drops every session whose last activity is older than `logTime - ttlMs`. Amortized O(1). */
  expire(logTime: number): void {
    const horizon = logTime - this.limits.ttlMs;
    for (const [id, s] of this.sessions) {
      if (s.lastActive >= horizon) return;
      this.sessions.delete(id);
    }
  }

  /**
   * Returns `clientId`'s session, marked used at `logTime`. An unknown (new, expired or evicted)
   * client starts a fresh session that accepts any seq. Evicts the least recently used session
   * when over `maxSessions`.
   */
  touch(clientId: string, logTime: number): SessionRecord {
    let s = this.sessions.get(clientId);
    if (s === undefined) {
      s = { lastActive: logTime, floor: 0, results: new Map() };
    } else {
      this.sessions.delete(clientId);
      s.lastActive = logTime;
    }
    this.sessions.set(clientId, s);
    if (this.sessions.size > this.limits.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    return s;
  }

  /** Discards results below `ack` (the client has seen them). */
  static acknowledge(s: SessionRecord, ack: number): void {
    if (ack <= s.floor) return;
    s.floor = ack;
    for (const seq of s.results.keys()) if (seq < ack) s.results.delete(seq);
  }

  /** Stores `seq`'s result, evicting the oldest result over the bound. */
  record(s: SessionRecord, seq: number, result: KvResult): void {
    s.results.set(seq, result);
    if (s.results.size > this.limits.maxResultsPerSession) {
      const oldest = s.results.keys().next().value as number;
      s.results.delete(oldest);
      // A seq at or below an evicted one can no longer be told apart from a new command.
      if (oldest + 1 > s.floor) s.floor = oldest + 1;
    }
  }

  /** Replaces the content (restore); `entries` in least-recently-used order. */
  load(entries: Iterable<[string, SessionRecord]>): void {
    this.sessions.clear();
    for (const [id, s] of entries) this.sessions.set(id, s);
  }
}
