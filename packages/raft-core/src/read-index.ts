/**
 * Linearizable reads (thesis §6.4): ReadIndex rounds confirmed by a quorum's heartbeat
 * acknowledgements, follower reads through the leader, and opt-in leases.
 */
import { NotLeaderError } from './errors.js';
import type { Raft } from './raft.js';
import type { ReadRequest } from './read-only.js';
import * as replication from './replication.js';
import type { Index, MsgReadIndexResp, NodeId } from './types.js';

/**
 * Requests a read index for `context`. The answer arrives as a {@link ReadState} in a later
 * Ready. Throws {@link NotLeaderError} if no leader is known.
 */
export function readIndex(raft: Raft, context: number): void {
  if (raft.role === 'leader') {
    handleReadRequest(raft, { from: raft.id, context });
    return;
  }
  if (raft.lead === null) throw new NotLeaderError(null);
  raft.send(
    { type: 'MsgReadIndex', from: raft.id, to: raft.lead, term: raft.term, context },
    false,
  );
}

export function handleReadRequest(raft: Raft, req: ReadRequest): void {
  if (raft.role !== 'leader') {
    failReads(raft, [req]);
    return;
  }
  // §6.4 step 1: until the leader commits an entry of its own term it does not know the
  // latest commit index; hold the read until then.
  if (raft.log.term(raft.log.committed) !== raft.term) {
    raft.pendingReads.push(req);
    return;
  }
  const index = raft.log.committed;
  if (raft.tracker.isSingleton(raft.id) || leaseValid(raft)) {
    // A single voter is a quorum by itself; a valid lease stands for a fresh round.
    respondRead(raft, req, index);
    return;
  }
  if (raft.cfg.readOnly === 'lease') {
    startLeaseRound(raft, [req]);
    return;
  }
  const id = ++raft.readSeq;
  raft.readOnly.add(id, index, [req], raft.id);
  replication.bcastHeartbeat(raft, id);
}

/**
 * Lease mode: a follower that received a heartbeat sent at tick T grants no vote to anyone
 * else before T + electionTick of its own ticks (CheckQuorum's lease). So while fewer than
 * `electionTick - 2` of our ticks have passed since a round a quorum acknowledged was sent,
 * no other leader can exist — assuming clocks tick at the same rate (the 2 ticks absorb tick
 * phase differences, not drift).
 */
export function leaseValid(raft: Raft): boolean {
  // A transfer lets the target campaign without waiting for followers' leases: no lease then,
  // nor for the rest of the term once MsgTimeoutNow was sent (it may arrive arbitrarily late).
  return (
    raft.cfg.readOnly === 'lease' &&
    raft.leadTransferee === null &&
    !raft.timeoutNowSent &&
    raft.ticksElapsed - raft.leaseFrom < raft.cfg.electionTick - 2
  );
}

export function startLeaseRound(raft: Raft, reqs: ReadRequest[]): void {
  const id = ++raft.readSeq;
  raft.roundSentAt.set(id, raft.ticksElapsed);
  raft.readOnly.add(id, raft.log.committed, reqs, raft.id);
  replication.bcastHeartbeat(raft, id);
}

export function handleReadAck(raft: Raft, id: number, from: NodeId): void {
  const acks = raft.readOnly.recvAck(id, from);
  if (acks === undefined) return;
  if (raft.tracker.config.voters.voteResult((v) => acks.has(v)) !== 'won') return;
  const sent = raft.roundSentAt.get(id);
  if (sent !== undefined && sent > raft.leaseFrom) raft.leaseFrom = sent;
  for (const round of raft.readOnly.advance(id)) {
    raft.roundSentAt.delete(round.id);
    for (const req of round.requests) respondRead(raft, req, round.index);
  }
}

export function respondRead(raft: Raft, req: ReadRequest, index: Index): void {
  if (req.from === raft.id) {
    raft.readStates.push({ index, context: req.context });
    return;
  }
  const m: MsgReadIndexResp = {
    type: 'MsgReadIndexResp',
    from: raft.id,
    to: req.from,
    term: raft.term,
    context: req.context,
    index,
    reject: false,
  };
  raft.send(m, false);
  // The follower must learn that `index` is committed before it can serve the read.
  replication.sendAppend(raft, req.from, true);
}

export function rejectReadIndex(raft: Raft, to: NodeId, context: number): void {
  raft.send(
    {
      type: 'MsgReadIndexResp',
      from: raft.id,
      to,
      term: raft.term,
      context,
      index: 0,
      reject: true,
    },
    false,
  );
}

export function failReads(raft: Raft, reqs: readonly ReadRequest[]): void {
  for (const r of reqs) {
    if (r.from === raft.id) raft.readStates.push({ index: -1, context: r.context });
    else rejectReadIndex(raft, r.from, r.context);
  }
}
