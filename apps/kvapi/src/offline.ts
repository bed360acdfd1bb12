/**
 * Offline access to a stopped node's data directory, shared by `kvapi inspect`, `recover`,
 * `backup --data` and `restore`: open the SQLite log, rebuild the key-value state from its
 * snapshot and log, and seal a state into a new snapshot that a node starts from.
 *
 * NB: the storage holds SQLite's exclusive lock, so none of this works while a kvapi process
 * has the same directory open (the open fails with `Locked`): stop the node first, or back a
 * running node up through `GET /admin/backup`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  type Entry,
  EntryType,
  encodeConfChange,
  type HardState,
  type Index,
  type Term,
} from 'raft-core';
import { KvStateMachine } from 'raft-kv';
import { SqliteLogStorage, SqliteStorageError } from 'raft-storage-sqlite';

/** A command-line tool's failure; `message` is printed as one line, exit status 1. */
export class ToolError extends Error {
  override readonly name = 'ToolError';
}

/** Where a node keeps its raft log inside `--data`. */
export function dbPath(data: string): string {
  return join(data, 'raft.db');
}

/** What a data directory holds, as `kvapi inspect` prints it. */
export interface DataSummary {
  readonly node: string;
  readonly clusterId: string;
  readonly hardState: HardState;
  readonly confState: ConfState;
  /** Index and term of the stored snapshot (0 and 0 without one). */
  readonly snapshotIndex: Index;
  readonly snapshotTerm: Term;
  /** Index and term of the last entry in the log (the snapshot's when the log is empty). */
  readonly lastIndex: Index;
  readonly lastTerm: Term;
  /** Keys in the state rebuilt from every stored entry (committed or not). */
  readonly keys: number;
}

/** An opened data directory with its state machine rebuilt. Call `close()` when done. */
export interface OpenedData {
  readonly storage: SqliteLogStorage;
  readonly summary: DataSummary;
  /** The state with every stored entry applied (also the tail that may not have committed). */
  readonly sm: KvStateMachine;
  /** The voters, learners and ids with an address in the log: everyone the log knows of. */
  readonly knownIds: readonly string[];
  close(): Promise<void>;
}

/**
 * Opens a stopped node's storage (never creating it) and rebuilds its state: the stored snapshot
 * restored, then entries applied in order up to `upTo` ('all' = the whole log; 'commit' = the
 * commit index in the hard state, which may lag behind what the cluster committed).
 */
export async function openData(opts: {
  readonly data: string;
  readonly node: string;
  readonly clusterId: string;
  readonly upTo: 'all' | 'commit';
}): Promise<OpenedData> {
  const path = dbPath(opts.data);
  if (!existsSync(path)) throw new ToolError(`${path} does not exist (wrong --data?)`);
  let storage: SqliteLogStorage;
  try {
    storage = await SqliteLogStorage.open({
      path,
      clusterId: opts.clusterId,
      nodeId: opts.node,
      create: false,
      verify: 'full',
    });
  } catch (e) {
    if (SqliteStorageError.isInstance(e) && e.reason === 'Locked') {
      throw new ToolError(`${path} is in use: stop the kvapi process on it first (${e.message})`);
    }
    throw new ToolError(`cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    const init = await storage.initialState();
    const sm = new KvStateMachine({});
    const snap = await storage.snapshot();
    if (snap !== null) sm.restore(snap.data);
    const last =
      opts.upTo === 'all' ? init.lastIndex : Math.min(init.lastIndex, init.hardState.commit);
    let lastTerm = snap?.meta.term ?? 0;
    // Page through the log so a long one never sits in memory whole.
    for (let lo = init.firstIndex; lo <= last; ) {
      const page = await storage.entries(lo, Math.min(last + 1, lo + 4096), 16 * 1024 * 1024);
      for (const e of page) {
        sm.apply(e);
        lastTerm = e.term;
      }
      lo += page.length;
    }
    const ids = new Set<string>([
      ...init.confState.voters,
      ...init.confState.learners,
      ...init.confState.votersOutgoing,
      ...init.confState.learnersNext,
      ...sm.members().keys(),
    ]);
    const summary: DataSummary = {
      node: opts.node,
      clusterId: opts.clusterId,
      hardState: init.hardState,
      confState: init.confState,
      snapshotIndex: snap?.meta.index ?? 0,
      snapshotTerm: snap?.meta.term ?? 0,
      lastIndex: last,
      lastTerm,
      keys: sm.size,
    };
    return {
      storage,
      summary,
      sm,
      knownIds: [...ids].sort(),
      close: () => storage.close(),
    };
  } catch (e) {
    await storage.close().catch(() => {});
    if (e instanceof ToolError) throw e;
    throw new ToolError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/**
 * Applies a ConfChange entry at `index` to `sm` that removes every id in `remove` from the
 * members the log knows addresses of, so the sealed state names only the new configuration.
 * The entry is never stored or sent: it only moves the state machine to `index`, the index the
 * sealed snapshot claims to cover (a snapshot's data is the state after its index).
 */
export function applySeal(
  sm: KvStateMachine,
  index: Index,
  term: Term,
  remove: readonly string[],
): void {
  const entry: Entry = {
    index,
    term,
    type: EntryType.ConfChange,
    data: encodeConfChange({
      changes: remove.map((node) => ({ op: 'removeNode' as const, node })),
    }),
  };
  sm.apply(entry);
}

/**
 * Durably replaces everything in `storage` by one snapshot at (`index`, `term`) whose
 * configuration is `voters`, and a hard state at `term` with no vote and everything committed.
 * The log is empty afterwards: a node started on it restores the snapshot, and the leader it
 * elects sends that snapshot to every member added later.
 */
export async function writeSealed(
  storage: SqliteLogStorage,
  index: Index,
  term: Term,
  voters: readonly string[],
  data: Uint8Array,
): Promise<void> {
  const confState: ConfState = { ...EMPTY_CONF_STATE, voters: [...new Set(voters)].sort() };
  await storage.save(
    {
      snapshot: { meta: { index, term, confState }, data },
      entries: [],
      hardState: { term, vote: null, commit: index },
      confState,
    },
    true,
  );
}

/** True when `dir` is missing or empty (a place `restore` may create a node in). */
export function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}
