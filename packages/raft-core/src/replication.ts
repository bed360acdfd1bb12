/**
 * Log replication (§5.3): the follower side of AppendEntries and heartbeats, and the leader
 * side — acknowledgements, flow control, pipelining and fast backtracking.
 */
import { entrySize } from './log.js';
import * as membership from './membership.js';
import type { Raft } from './raft.js';
import * as readIdx from './read-index.js';
import * as snapshots from './snapshot-transfer.js';
import type {
  Entry,
  Index,
  MsgApp,
  MsgAppResp,
  MsgHeartbeat,
  MsgHeartbeatResp,
  NodeId,
} from './types.js';

export function handleAppendEntries(raft: Raft, m: MsgApp): void {
  if (m.index < raft.log.committed) {
    // Everything up to our commit index is known to match; tell the leader so.
    raft.send(appResp(raft, m.from, raft.log.committed), true);
    return;
  }
  const lastNew = raft.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== null) {
    raft.send(appResp(raft, m.from, lastNew), true);
    return;
  }
  // Mismatch: hint the leader at the last entry that could possibly match (fast backtracking).
  const hint = raft.log.findConflictByTerm(Math.min(m.index, raft.log.lastIndex()), m.logTerm);
  raft.logger.debug(
    `${raft.id} [logterm: ${raft.log.term(m.index) ?? 0}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from}`,
  );
  raft.send(
    {
      type: 'MsgAppResp',
      from: raft.id,
      to: m.from,
      term: raft.term,
      index: m.index,
      reject: true,
      hintIndex: hint.index,
      hintTerm: hint.term,
    },
    true,
  );
}

export function appResp(raft: Raft, to: NodeId, index: Index): MsgAppResp {
  return {
    type: 'MsgAppResp',
    from: raft.id,
    to,
    term: raft.term,
    index,
    reject: false,
    hintIndex: 0,
    hintTerm: 0,
  };
}

export function handleHeartbeat(raft: Raft, m: MsgHeartbeat): void {
  // The leader caps the commit index at our match, so it is safe to apply (§5.3).
  raft.log.commitTo(Math.min(m.commit, raft.log.lastIndex()));
  const r: MsgHeartbeatResp = {
    type: 'MsgHeartbeatResp',
    from: raft.id,
    to: m.from,
    term: raft.term,
    context: m.context,
  };
  raft.send(r, false);
}

export function handleAppendResponse(raft: Raft, m: MsgAppResp): void {
  const pr = raft.tracker.progress.get(m.from);
  if (pr === undefined) return;
  if (m.reject) {
    raft.logger.debug(
      `${raft.id} received MsgAppResp(rejected, hint: (index ${m.hintIndex}, term ${m.hintTerm})) from ${m.from} for index ${m.index}`,
    );
    let next = m.hintIndex;
    if (m.hintTerm > 0) {
      // Skip every entry of ours that cannot match the follower's log (thesis §5.3).
      next = raft.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
    }
    if (pr.maybeDecrTo(m.index, next)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(raft, m.from, true);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) {
    if (wasPaused && !pr.isPaused()) sendAppend(raft, m.from, false);
    return;
  }
  if (pr.state === 'probe') pr.becomeReplicate();
  else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe();
  else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

  // NB: followers learn a new commit index with the next append or heartbeat, not with a
  // dedicated message: it halves the messages per proposal when proposals are sequential.
  raft.maybeCommit();
  if (m.from === raft.leadTransferee && pr.match === raft.log.lastIndex()) {
    raft.logger.info(`${raft.id} sent MsgTimeoutNow to ${m.from} after it caught up`);
    membership.sendTimeoutNow(raft, m.from);
  }
  // Keep the pipe full.
  while (sendAppend(raft, m.from, false)) {
    /* send as much as flow control allows */
  }
}

export function handleHeartbeatResponse(raft: Raft, m: MsgHeartbeatResp): void {
  const pr = raft.tracker.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (m.context !== 0) readIdx.handleReadAck(raft, m.context, m.from);
  if (pr.state === 'snapshot') {
    // Go-back-N: if the transfer made no progress since the last heartbeat, resend from the
    // last acknowledged offset (chunks may have been lost).
    if (pr.snapAcked === pr.snapAckedAtHeartbeat) {
      if (pr.snapAcked >= (raft.snapshot?.data.byteLength ?? 0)) {
        // Every byte arrived but the follower's final answer was lost: probe where it is.
        pr.becomeProbe();
        sendAppend(raft, m.from, true);
        return;
      }
      pr.snapSent = pr.snapAcked;
    }
    pr.snapAckedAtHeartbeat = pr.snapAcked;
    snapshots.sendSnapshotChunks(raft, m.from, pr);
    return;
  }
  pr.probeSent = false;
  // NB: if the window is full its MsgApps may all have been lost; free one so that another
  // append goes out. A gap makes the follower reject it, and the leader falls back to probing.
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.match < raft.log.lastIndex()) sendAppend(raft, m.from, true);
}

/**
 * Sends entries from `pr.next` to `to` if flow control allows. With `sendIfEmpty`, a MsgApp
 * without entries is sent too (to probe or to carry the commit index). Returns true if sent.
 */
export function sendAppend(raft: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = raft.tracker.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = raft.log.term(prevIndex);
  if (prevTerm === undefined) {
    // The entries the follower needs were compacted: it must catch up from a snapshot.
    snapshots.startSnapshot(raft, to, pr);
    return false;
  }
  const ents = raft.log.slice(pr.next, raft.log.lastIndex() + 1, raft.cfg.maxSizePerMsg);
  if (ents.length === 0 && !sendIfEmpty) return false;
  let bytes = 0;
  for (const e of ents) bytes += entrySize(e);
  const m: MsgApp = {
    type: 'MsgApp',
    from: raft.id,
    to,
    term: raft.term,
    index: prevIndex,
    logTerm: prevTerm,
    entries: ents,
    commit: raft.log.committed,
  };
  if (ents.length > 0) pr.sentEntries((ents[ents.length - 1] as Entry).index, bytes);
  else if (pr.state === 'probe') pr.probeSent = true;
  raft.send(m, false);
  return ents.length > 0;
}

/** Sends appends to every follower that can take them. */
export function bcastAppend(raft: Raft, sendIfEmpty: boolean): void {
  for (const id of raft.tracker.progress.keys()) {
    if (id !== raft.id) sendAppend(raft, id, sendIfEmpty);
  }
}

export function bcastHeartbeat(raft: Raft, context = 0): void {
  for (const [id, pr] of raft.tracker.progress) {
    if (id === raft.id) continue;
    const m: MsgHeartbeat = {
      type: 'MsgHeartbeat',
      from: raft.id,
      to: id,
      term: raft.term,
      commit: Math.min(pr.match, raft.log.committed),
      context,
    };
    raft.send(m, false);
  }
}

/**
 * Leader only: sends the entries appended since the last call to every follower that can take
 * them. Called once per Ready so that concurrent proposals travel in one MsgApp (group commit).
 */
export function flushAppends(raft: Raft): void {
  if (raft.pendingBcast && raft.role === 'leader') {
    for (const id of raft.tracker.progress.keys()) {
      if (id === raft.id) continue;
      while (sendAppend(raft, id, false)) {
        /* pipeline as far as flow control allows */
      }
    }
  }
  raft.pendingBcast = false;
}
