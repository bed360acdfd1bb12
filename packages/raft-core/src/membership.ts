/**
 * Membership changes (thesis §4) and leadership transfer (thesis §3.10).
 */
import { applyChange, changeKind } from './confchange/changer.js';
import { decodeConfChange, encodeConfChange } from './confchange/codec.js';
import { NotLeaderError, RaftError } from './errors.js';
import type { JointConfig } from './quorum/joint.js';
import type { Raft } from './raft.js';
import * as replication from './replication.js';
import type { Progress } from './tracker/progress.js';
import { confStateFromConfig } from './tracker/progress-tracker.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type Index,
  type NodeId,
  type Term,
} from './types.js';

/**
 * Starts transferring leadership to `to`: proposals are refused meanwhile, `to` is brought up
 * to date, then told to campaign at once (MsgTimeoutNow). Aborted after an election timeout.
 */
export function transferLeadership(raft: Raft, to: NodeId): void {
  if (raft.role !== 'leader') throw new NotLeaderError(raft.lead);
  if (to === raft.id) return;
  if (!raft.tracker.isVoter(to)) {
    throw new RaftError('InvalidArgument', `cannot transfer leadership to ${to}: not a voter`);
  }
  if (raft.leadTransferee === to) return;
  raft.logger.info(`${raft.id} [term ${raft.term}] starts to transfer leadership to ${to}`);
  raft.leadTransferee = to;
  raft.electionElapsed = 0;
  const pr = raft.tracker.progress.get(to) as Progress;
  if (pr.match === raft.log.lastIndex()) sendTimeoutNow(raft, to);
  else replication.sendAppend(raft, to, true);
}

/**
 * The voter (not `raft` itself) with the longest log match, if it holds at least the entry at
 * `atLeast`; ties go to the smallest id, so that the choice is deterministic.
 */
function handoverTarget(raft: Raft, atLeast: Index): NodeId | null {
  let best: NodeId | null = null;
  let bestMatch = atLeast - 1;
  for (const [id, pr] of raft.tracker.progress) {
    if (id === raft.id || !raft.tracker.isVoter(id)) continue;
    if (pr.match > bestMatch || (pr.match === bestMatch && best !== null && id < best)) {
      best = id;
      bestMatch = pr.match;
    }
  }
  return best;
}

export function sendTimeoutNow(raft: Raft, to: NodeId): void {
  raft.timeoutNowSent = true;
  raft.send({ type: 'MsgTimeoutNow', from: raft.id, to, term: raft.term }, false);
}

/**
 * Leader: proposes a membership change. One change at a time: throws
 * `RaftError('ConfChangeInProgress')` while an earlier one is not applied, and
 * `RaftError('Unavailable')` if the new configuration would have no active quorum.
 */
export function proposeConfChange(raft: Raft, cc: ConfChange): { index: Index; term: Term } {
  if (raft.role !== 'leader') throw new NotLeaderError(raft.lead);
  if (raft.leadTransferee !== null) {
    throw new RaftError(
      'LeadershipTransferInProgress',
      `leadership is being transferred to ${raft.leadTransferee}`,
    );
  }
  if (raft.pendingConfIndex > raft.log.applied) {
    throw new RaftError(
      'ConfChangeInProgress',
      `conf change at ${raft.pendingConfIndex} is not applied yet`,
    );
  }
  const cfg = raft.tracker.config;
  if (cfg.voters.isJoint && changeKind(cc) !== 'leaveJoint') {
    throw new RaftError(
      'ConfChangeInProgress',
      'in a joint configuration: only leaving it is allowed',
    );
  }
  if (cc.context !== undefined && typeof cc.context !== 'string') {
    throw new RaftError('InvalidArgument', 'conf change context must be a string');
  }
  const next = applyChange(cfg, cc); // throws InvalidArgument
  // Guard: the new configuration must have a quorum of recently active voters, or the
  // cluster would be stuck (thesis §4.2.2 availability).
  // NB: not `recentActive`, which CheckQuorum clears at every election timeout.
  const active = (id: NodeId): boolean => {
    if (id === raft.id) return true;
    const pr = raft.tracker.progress.get(id);
    return pr !== undefined && raft.ticksElapsed - pr.lastHeardTick <= raft.cfg.electionTick;
  };
  if (next.voters.voteResult(active) !== 'won') {
    throw new RaftError('Unavailable', 'the new configuration would not have an active quorum');
  }
  const r = raft.propose(encodeConfChange(cc), EntryType.ConfChange);
  raft.pendingConfIndex = r.index;
  return r;
}

/**
 * Applies a committed membership change (called by the driver when it applies the entry, in
 * log order, with its `index`). Returns the new configuration. An invalid change is ignored on
 * every node alike; so is a change at or below {@link Raft.confIndex}.
 */
export function applyConfChange(raft: Raft, cc: ConfChange, index?: Index): ConfState {
  if (index !== undefined) {
    // A configuration never goes backwards: an entry at or below the one in force (e.g. from a
    // Ready handed out before a newer snapshot was installed) is already reflected in it.
    if (index <= raft.confIndex) {
      raft.logger.info(
        `${raft.id} skipped conf change at ${index}: configuration is from ${raft.confIndex}`,
      );
      return confStateFromConfig(raft.tracker.config);
    }
    raft.confIndex = index;
  }
  let next: ReturnType<typeof applyChange>;
  try {
    next = applyChange(raft.tracker.config, cc);
  } catch (e) {
    raft.logger.warn(`${raft.id} ignored an invalid conf change`, { error: String(e) });
    return confStateFromConfig(raft.tracker.config);
  }
  raft.tracker.setConfig(next, raft.log.lastIndex() + 1, raft.ticksElapsed);
  const cs = confStateFromConfig(next);
  raft.logger.info(`${raft.id} switched to configuration ${JSON.stringify(cs)}`);
  if (raft.role === 'leader') {
    if (!raft.tracker.isVoter(raft.id)) {
      // Thesis §4.2.2: a leader removed from the configuration steps down once it is committed.
      // It hands over first (§3.10): the voter of the new configuration with the longest match
      // is told to campaign at once, so the cluster need not wait an election timeout for a
      // leader. Only a liveness aid: if that voter cannot win, the next timeout elects one.
      const heir = handoverTarget(raft, index ?? raft.log.committed);
      raft.logger.info(
        `${raft.id} steps down: no longer a voter${heir === null ? '' : `; hands over to ${heir}`}`,
      );
      if (heir !== null) sendTimeoutNow(raft, heir);
      raft.becomeFollower(raft.term, null);
      return cs;
    }
    const self = raft.tracker.progress.get(raft.id);
    if (self !== undefined) self.match = Math.max(self.match, raft.log.stable);
    if (raft.leadTransferee !== null && !raft.tracker.isVoter(raft.leadTransferee))
      raft.leadTransferee = null;
    raft.maybeCommit();
    raft.pendingBcast = true;
  }
  return cs;
}

/**
 * Leader: proposes leaving an auto-leave joint configuration once entering it is applied
 * (thesis §4.3). Checked after every Ready (not only when the joint entry is applied), so a
 * leader elected while the cluster is in a joint configuration leaves it too.
 */
export function maybeAutoLeaveJoint(raft: Raft): void {
  const cfg = raft.tracker.config;
  if (raft.role !== 'leader' || !cfg.voters.isJoint || !cfg.autoLeave) return;
  if (raft.leadTransferee !== null || raft.pendingConfIndex > raft.log.applied) return;
  const r = raft.propose(encodeConfChange({ changes: [] }), EntryType.ConfChange);
  raft.pendingConfIndex = r.index;
}

/**
 * The voters of the latest configuration in `raft`'s log — the applied one with every
 * ConfChange entry after `applied` applied on top — or null if there is no such entry.
 */
export function latestLogVoters(raft: Raft): JointConfig | null {
  let cfg = raft.tracker.config;
  let changed = false;
  const last = raft.log.lastIndex();
  for (
    let i = Math.max(raft.log.applied, raft.confIndex, raft.log.snapshotIndex()) + 1;
    i <= last;
    i++
  ) {
    const e = raft.log.entry(i);
    if (e?.type !== EntryType.ConfChange) continue;
    try {
      const next = applyChange(cfg, decodeConfChange(e.data));
      if (next !== cfg) {
        cfg = next;
        changed = true;
      }
    } catch {
      // An invalid change is ignored when applied, so here too.
    }
  }
  return changed ? cfg.voters : null;
}

/** True if applying the ConfChange entry `e` would leave the configuration as it is. */
export function isNoopConfChange(raft: Raft, e: Entry): boolean {
  try {
    return applyChange(raft.tracker.config, decodeConfChange(e.data)) === raft.tracker.config;
  } catch {
    return true; // an invalid change is ignored when applied
  }
}
