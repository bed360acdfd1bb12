/**
 * `KvStore` is a convenience facade over one `RaftNode` and its `KvStateMachine`: it validates
 * input, enforces size limits, proposes writes through the log and serves reads from the local
 * state machine after a ReadIndex round (thesis §6.4) — reads never go through the log.
 */
import { Buffer } from 'node:buffer';
import type { RaftNode } from 'raft-core';
import { checkSession, encodeKvCommand, type KvCommand, type Session } from './command.js';
import {
  checkKey,
  checkValue,
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_VALUE_BYTES,
  invalid,
  isWellFormedString,
  KvLimitError,
} from './errors.js';
import type { KvStateMachine } from './kv-state-machine.js';
import type { KvResult } from './result.js';

/** Limits and clock of a {@link KvStore}. */
export interface KvStoreOptions {
  /** Largest key, in UTF-8 bytes. Default {@link DEFAULT_MAX_KEY_BYTES} (1024). */
  maxKeyBytes?: number;
  /** Largest value, in UTF-8 bytes. Default {@link DEFAULT_MAX_VALUE_BYTES} (1 MiB). */
  maxValueBytes?: number;
  /** The wall clock stamped on commands (sessions expire by it). Default `Date.now`. */
  now?: () => number;
}

/** Options of a write. */
export interface WriteOptions {
  /** The client session: a retry with the same `clientId` and `seq` is applied at most once. */
  session?: Session;
}

/** Read consistency: `linearizable` (ReadIndex round first, the default) or `stale` (local). */
export type ReadConsistency = 'linearizable' | 'stale';

/**
 * Writes go through `node.propose` (so they reject with `NotLeaderError` on a follower); reads
 * are served by this node's state machine.
 *
 * Correctness:
 * - bad input throws `RaftError('InvalidArgument')` (oversized keys/values: `KvLimitError`)
 *   before anything is proposed;
 * - a linearizable read sees every write that completed anywhere before it started.
 */
export class KvStore {
  private readonly maxKeyBytes: number;
  private readonly maxValueBytes: number;
  private readonly now: () => number;

  constructor(
    /** The raft node that writes are proposed to and reads confirmed by. */
    readonly node: RaftNode<KvResult>,
    /** The node's state machine, read after `node.read()`. */
    readonly sm: KvStateMachine,
    options: KvStoreOptions = {},
  ) {
    this.maxKeyBytes = limitOption(options.maxKeyBytes, DEFAULT_MAX_KEY_BYTES, 'maxKeyBytes');
    this.maxValueBytes = limitOption(
      options.maxValueBytes,
      DEFAULT_MAX_VALUE_BYTES,
      'maxValueBytes',
    );
    this.now = options.now ?? Date.now;
  }

  /** Sets `key` to `value`. */
  put(key: string, value: string, opts: WriteOptions = {}): Promise<KvResult> {
    return this.write(() => {
      this.checkKey(key);
      this.checkValue(value, 'value');
      return { op: 'put', key, value };
    }, opts);
  }

  /** Deletes `key`; `ok` says whether it existed. */
  delete(key: string, opts: WriteOptions = {}): Promise<KvResult> {
    return this.write(() => {
      this.checkKey(key);
      return { op: 'delete', key };
    }, opts);
  }

  /** Sets `key` to `to` if its value is `from` (`null`: if it is absent); `ok` says if it did. */
  cas(key: string, from: string | null, to: string, opts: WriteOptions = {}): Promise<KvResult> {
    return this.write(() => {
      this.checkKey(key);
      if (from !== null) this.checkValue(from, 'from');
      this.checkValue(to, 'to');
      return { op: 'cas', key, from, to };
    }, opts);
  }

  /** The value of `key` (`undefined` if absent). */
  async get(
    key: string,
    opts: { consistency?: ReadConsistency } = {},
  ): Promise<string | undefined> {
    this.checkKey(key);
    await this.barrier(opts.consistency);
    return this.sm.get(key);
  }

  /** Up to `limit` entries with keys starting with `prefix`, after `after`, in key order. */
  async list(
    prefix: string,
    limit: number,
    opts: { consistency?: ReadConsistency; after?: string } = {},
  ): Promise<{
    /** The matching entries, in key order. */
    items: {
      /** The key. */
      key: string;
      /** Its value. */
      value: string;
    }[];
    /** True if more keys match after the last one returned (pass it as `after` to continue). */
    more: boolean;
  }> {
    if (!isWellFormedString(prefix)) invalid('prefix must be a string without lone surrogates');
    if (!Number.isSafeInteger(limit) || limit < 0) invalid('limit must be a non-negative integer');
    if (opts.after !== undefined && !isWellFormedString(opts.after)) {
      invalid('after must be a string without lone surrogates');
    }
    await this.barrier(opts.consistency);
    return this.sm.list(prefix, limit, opts.after);
  }

  private async barrier(consistency: ReadConsistency = 'linearizable'): Promise<void> {
    if (consistency === 'stale') return;
    if (consistency !== 'linearizable') invalid(`unknown consistency ${String(consistency)}`);
    await this.node.read();
  }

  private async write(build: () => KvCommand, opts: WriteOptions): Promise<KvResult> {
    const cmd = build();
    if (opts.session !== undefined) checkSession(opts.session);
    const meta =
      opts.session === undefined
        ? { time: this.time() }
        : { time: this.time(), session: opts.session };
    return this.node.propose(encodeKvCommand(cmd, meta));
  }

  private time(): number {
    const t = Math.floor(this.now());
    return Number.isSafeInteger(t) && t >= 0 ? t : 0;
  }

  private checkKey(key: unknown): asserts key is string {
    checkKey(key);
    const n = Buffer.byteLength(key);
    if (n > this.maxKeyBytes) throw new KvLimitError('key', this.maxKeyBytes, n);
  }

  private checkValue(value: unknown, what: string): asserts value is string {
    checkValue(value, what);
    const n = Buffer.byteLength(value);
    if (n > this.maxValueBytes) throw new KvLimitError('value', this.maxValueBytes, n);
  }
}

function limitOption(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1) invalid(`${name} must be a positive integer`);
  return v;
}
