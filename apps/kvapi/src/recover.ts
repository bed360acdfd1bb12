/**
 * Lost-quorum recovery (`kvapi recover`), after hashicorp/raft's `RecoverCluster` and etcd's
 * `--force-new-cluster`: when a majority of the voters is gone for good, the cluster can never
 * commit again. Run offline against the stopped survivor with the most up-to-date log, this
 * makes it the only voter of a new configuration; started again, it elects itself and the
 * operator adds fresh members through the admin routes.
 *
 * What it writes, durably and in one SQLite transaction: one snapshot at index `last + 1` and
 * term `T + 1` (T = the highest term in the node's hard state and log) whose data is the state
 * with EVERY stored entry applied, and whose configuration is `{voters: [this node]}`; a hard
 * state at term `T + 1` with no vote; an empty log.
 *
 * Why that index and term:
 * - the whole stored log is folded in, committed or not: an entry the old cluster committed
 *   may be known committed only to the nodes that are gone, and the survivor cannot tell it
 *   from an uncommitted one (so an uncommitted write may come back too — like RecoverCluster);
 * - `last + 1` is past every index this node ever used, so the snapshot is newer than anything
 *   it stored, and the state machine's applied index equals the snapshot's;
 * - term `T + 1` was never used by this node, so no entry of the old cluster that it knows of
 *   can carry the recovery's (index, term): if an old node came back, its entry at `last + 1`
 *   (if any) conflicts and is replaced, and its votes cannot elect it over the new log unless
 *   its term was higher — which is why the lost nodes must never be restarted on their old data.
 *
 * Writes that were committed on the lost nodes but never reached the survivor are gone.
 */
import { applySeal, type OpenedData, openData, ToolError, writeSealed } from './offline.js';

/** What {@link recover} did. */
export interface RecoverResult {
  readonly node: string;
  readonly index: number;
  readonly term: number;
  /** The voters and learners before, as the survivor's storage recorded them. */
  readonly previousVoters: readonly string[];
  readonly previousLearners: readonly string[];
  /** Ids removed from the configuration and from the member addresses in the state. */
  readonly removed: readonly string[];
  /** Entries after the survivor's known commit index that were folded in anyway. */
  readonly uncommittedFoldedIn: number;
  readonly keys: number;
}

/** Rewrites the stopped node's storage under `data` into a one-voter cluster of itself. */
export async function recover(opts: {
  readonly data: string;
  readonly node: string;
  readonly clusterId: string;
}): Promise<RecoverResult> {
  const opened: OpenedData = await openData({ ...opts, upTo: 'all' });
  try {
    const { summary, sm, storage } = opened;
    const cs = summary.confState;
    if (
      summary.lastIndex === 0 &&
      summary.snapshotIndex === 0 &&
      cs.voters.length === 0 &&
      cs.learners.length === 0
    ) {
      throw new ToolError(`${opts.data} holds no cluster state (a node that never joined)`);
    }
    const t = Math.max(summary.hardState.term, summary.lastTerm);
    const index = summary.lastIndex + 1;
    const term = t + 1;
    const removed = opened.knownIds.filter((id) => id !== opts.node);
    applySeal(sm, index, term, removed);
    const data = await sm.snapshot();
    await writeSealed(storage, index, term, [opts.node], data);
    return {
      node: opts.node,
      index,
      term,
      previousVoters: [...cs.voters],
      previousLearners: [...cs.learners],
      removed,
      uncommittedFoldedIn: Math.max(0, summary.lastIndex - summary.hardState.commit),
      keys: sm.size,
    };
  } finally {
    await opened.close();
  }
}
