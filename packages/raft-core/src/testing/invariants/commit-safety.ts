import type { RaftLog } from '../../log.js';
import type { JointConfig } from '../../quorum/joint.js';
import type { Index, NodeId, Term } from '../../types.js';
import { InvariantViolation } from './types.js';

/** What the commit safety check needs of one node. */
export interface CommitView {
  readonly id: NodeId;
  /** The node's log (in memory) — for live nodes only. */
  readonly log: RaftLog;
  /** The voters as this node sees them (it campaigns under this configuration). */
  readonly voters: JointConfig;
  /** The voters of the latest configuration in its log, if newer: it must win there too. */
  readonly latestVoters: JointConfig | null;
  readonly isLeader: boolean;
}

/** The end of a node's durable log: what it would compare a candidate against after a restart. */
export type DurableLast = (id: NodeId) => { index: Index; term: Term } | undefined;

/**
 * Commit safety (§5.4, the heart of the Leader Completeness proof): once any node considers the
 * entry at index `c` committed, no node whose log lacks that entry may be able to win an
 * election — that is, no quorum of its voters may hold durable logs that are no more up to date
 * than its own (§5.4.1's vote check). Checked against *durable* logs, since any voter may crash
 * and come back with only those.
 *
 * This does not wait for the unsafe commit to be exploited (a Figure-8 overwrite needs a precise
 * sequence of crashes); it fails the moment a commit is not backed by a durable quorum or was made
 * by a rule Raft does not allow (old-term counting, a follower committing past what its leader
 * matched, acknowledging or counting unpersisted entries, forgetting a vote).
 */
export function checkCommitSafety(nodes: readonly CommitView[], durable: DurableLast): void {
  for (const holder of nodes) {
    const c = holder.log.committed;
    if (c === 0) continue;
    const t = holder.log.term(c);
    if (t === undefined) continue; // compacted exactly at commit: covered by an older check
    for (const cand of nodes) {
      if (cand === holder || cand.isLeader) continue;
      if (!lacks(cand.log, c, t)) continue;
      if (!cand.voters.incoming.ids.has(cand.id) && !cand.voters.outgoing.ids.has(cand.id))
        continue;
      const lastIndex = cand.log.lastIndex();
      const lastTerm = cand.log.lastTerm();
      const grants = (v: NodeId): boolean => {
        if (v === cand.id) return true;
        const d = durable(v);
        if (d === undefined) return false;
        return lastTerm > d.term || (lastTerm === d.term && lastIndex >= d.index);
      };
      const wins =
        cand.voters.voteResult(grants) === 'won' &&
        (cand.latestVoters === null || cand.latestVoters.voteResult(grants) === 'won');
      if (wins) {
        throw new InvariantViolation(
          'commit safety (§5.4)',
          `${holder.id} considers entry ${c} (term ${t}) committed, but ${cand.id} lacks it (last ${lastIndex}/${lastTerm}) and a quorum of durable logs would elect it`,
        );
      }
    }
  }
}

function lacks(log: RaftLog, index: Index, term: Term): boolean {
  if (index < log.snapshotIndex()) return false; // compaction only covers committed entries
  return log.term(index) !== term;
}
