/**
 * Snapshots (thesis §5): sending InstallSnapshot in chunks with a byte window, fast
 * retransmit and go-back-N on stalls; receiving, reassembling and restoring them; compaction.
 */
import { panic } from './errors.js';
import type { Raft } from './raft.js';
import * as replication from './replication.js';
import type { Progress } from './tracker/progress.js';
import { configFromConfState } from './tracker/progress-tracker.js';
import type { MsgSnap, MsgSnapResp, NodeId, Snapshot, Term } from './types.js';

export function startSnapshot(raft: Raft, to: NodeId, pr: Progress): void {
  const snap = raft.snapshot;
  if (snap === null) panic(`${raft.id}: entries for ${to} were compacted but there is no snapshot`);
  raft.logger.info(`${raft.id} starts sending snapshot at ${snap.meta.index} to ${to}`);
  pr.becomeSnapshot(snap.meta.index);
  sendSnapshotChunks(raft, to, pr);
}

/** Sends snapshot chunks to `to` while the window (in bytes) allows. */
export function sendSnapshotChunks(raft: Raft, to: NodeId, pr: Progress): void {
  const snap = raft.snapshot;
  if (snap === null || pr.state !== 'snapshot' || snap.meta.index !== pr.pendingSnapshot) {
    if (pr.state === 'snapshot') pr.becomeProbe();
    return;
  }
  const total = snap.data.byteLength;
  const window = raft.cfg.snapshotChunkSize * raft.cfg.snapshotWindow;
  do {
    const offset = pr.snapSent;
    if (offset > total || (offset === total && total > 0) || offset - pr.snapAcked >= window) {
      break;
    }
    pr.snapSent = sendSnapshotChunk(raft, to, offset);
    if (total === 0) break;
  } while (pr.snapSent < total);
}

/** Sends the chunk of the current snapshot starting at `offset`; returns where it ends. */
export function sendSnapshotChunk(raft: Raft, to: NodeId, offset: number): number {
  const snap = raft.snapshot as Snapshot;
  const total = snap.data.byteLength;
  const end = Math.min(total, offset + raft.cfg.snapshotChunkSize);
  const m: MsgSnap = {
    type: 'MsgSnap',
    from: raft.id,
    to,
    term: raft.term,
    meta: snap.meta,
    offset,
    totalBytes: total,
    data: snap.data.subarray(offset, end),
    done: end === total,
  };
  raft.send(m, false);
  return end;
}

export function handleSnapshotResponse(raft: Raft, m: MsgSnapResp, pr: Progress): void {
  if (pr.state !== 'snapshot' || m.index !== pr.pendingSnapshot) return;
  if (m.reject) {
    raft.logger.info(`${raft.id}: ${m.from} rejected snapshot ${m.index}; probing again`);
    pr.becomeProbe();
    return;
  }
  // `offset` is the next byte the follower wants.
  if (m.offset === 0 && pr.snapAcked > 0) {
    // The follower lost the partial snapshot (it restarted): start over.
    pr.snapAcked = 0;
    pr.snapSent = 0;
    pr.snapRewoundAt = -1;
  } else if (m.offset < pr.snapAcked) {
    return; // a stale, reordered acknowledgement
  } else if (m.offset === pr.snapAcked) {
    // A duplicate acknowledgement: a later chunk arrived before the one at `offset` (the
    // follower buffers it), or that one was lost. After two, resend just that chunk, once
    // per offset (fast retransmit); resending whole windows on duplicates makes each resent
    // window cause more duplicates (a storm). Longer stalls are retried per heartbeat.
    pr.snapDupAcks++;
    if (pr.snapDupAcks < 2 || pr.snapRewoundAt === m.offset || m.offset >= pr.snapSent) return;
    pr.snapRewoundAt = m.offset;
    sendSnapshotChunk(raft, m.from, m.offset);
    return;
  } else {
    pr.snapAcked = m.offset;
    pr.snapDupAcks = 0;
    if (pr.snapSent < m.offset) pr.snapSent = m.offset;
  }
  sendSnapshotChunks(raft, m.from, pr);
}

export function handleSnapshot(raft: Raft, m: MsgSnap): void {
  const meta = m.meta;
  const reply = (offset: number, reject = false): void => {
    const r: MsgSnapResp = {
      type: 'MsgSnapResp',
      from: raft.id,
      to: m.from,
      term: raft.term,
      index: meta.index,
      offset,
      reject,
    };
    raft.send(r, false);
  };
  if (meta.index <= raft.log.committed) {
    // We already have everything the snapshot covers: tell the leader where we are.
    raft.incoming = null;
    reply(m.totalBytes);
    raft.send(replication.appResp(raft, m.from, raft.log.committed), true);
    return;
  }
  let inc = raft.incoming;
  if (
    inc === null ||
    inc.meta.index !== meta.index ||
    inc.meta.term !== meta.term ||
    inc.leaderTerm !== m.term
  ) {
    if (m.offset !== 0) {
      reply(0);
      return;
    }
    inc = {
      meta,
      leaderTerm: m.term,
      total: m.totalBytes,
      received: 0,
      chunks: [],
      ahead: new Map(),
    };
    raft.incoming = inc;
  }
  if (m.offset + m.data.byteLength > inc.total) {
    reply(inc.received);
    return;
  }
  if (m.offset !== inc.received) {
    // Out of order: keep a bounded number of chunks ahead of the gap (reordering is not
    // loss), and tell the leader where the gap is.
    if (m.offset > inc.received && inc.ahead.size < 64) inc.ahead.set(m.offset, m.data);
    reply(inc.received);
    return;
  }
  inc.chunks.push(m.data);
  inc.received += m.data.byteLength;
  for (
    let next = inc.ahead.get(inc.received);
    next !== undefined;
    next = inc.ahead.get(inc.received)
  ) {
    inc.ahead.delete(inc.received);
    inc.chunks.push(next);
    inc.received += next.byteLength;
  }
  for (const off of inc.ahead.keys()) if (off < inc.received) inc.ahead.delete(off);
  if (inc.received < inc.total) {
    reply(inc.received);
    return;
  }
  raft.incoming = null;
  const data = concat(inc.chunks, inc.total);
  reply(inc.total);
  if (restore(raft, { meta, data })) {
    raft.logger.info(`${raft.id} restored snapshot [index: ${meta.index}, term: ${meta.term}]`);
    raft.send(replication.appResp(raft, m.from, raft.log.lastIndex()), true);
  } else {
    raft.send(replication.appResp(raft, m.from, raft.log.committed), true);
  }
}

/** Follower: installs `s` unless the log already covers it. Returns true if installed. */
export function restore(raft: Raft, s: Snapshot): boolean {
  if (s.meta.index <= raft.log.committed) return false;
  if (raft.log.matchTerm(s.meta.index, s.meta.term)) {
    // Our log has the snapshot's last entry: everything up to it is committed; keep the rest.
    raft.log.commitTo(s.meta.index);
    return false;
  }
  raft.log.restore(s);
  raft.snapshot = s;
  raft.confIndex = s.meta.index;
  raft.tracker.setConfig(configFromConfState(s.meta.confState), raft.log.lastIndex() + 1);
  return true;
}

/**
 * Records a snapshot taken by the driver (covering entries up to `s.meta.index` ≤ applied)
 * and compacts the in-memory log, keeping `keepEntries` entries behind it so slightly lagging
 * followers can still catch up from the log.
 */
export function compact(raft: Raft, s: Snapshot, keepEntries: number): void {
  if (s.meta.index > raft.log.applied)
    panic(`snapshot ${s.meta.index} is beyond applied ${raft.log.applied}`);
  if (raft.snapshot === null || s.meta.index > raft.snapshot.meta.index) raft.snapshot = s;
  const to = Math.max(raft.log.snapshotIndex(), s.meta.index - keepEntries);
  // NB: a follower may still be receiving an older snapshot; it keeps being sent the one in
  // its progress until it restarts from the new one (sendSnapshotChunks checks the index).
  raft.log.compact(to);
}

/** A snapshot being received in chunks. */
export interface IncomingSnapshot {
  readonly meta: Snapshot['meta'];
  readonly leaderTerm: Term;
  readonly total: number;
  received: number;
  readonly chunks: Uint8Array[];
  /** Chunks that arrived ahead of `received`, by offset (bounded). */
  readonly ahead: Map<number, Uint8Array>;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
