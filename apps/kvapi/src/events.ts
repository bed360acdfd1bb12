/**
 * `EventLog` turns one node's RaftNode events and periodic observations into a short history
 * of cluster events for `/events` (and the dashboard's timeline): elections with their reason,
 * leader changes, membership changes, snapshots taken, installed and sent, and members the
 * leader stopped (or started again) hearing from.
 *
 * Election reasons are inferred from the role sequence, as raft-core reports roles and not
 * why it campaigned: with PreVote (kvapi's default) an election timeout goes
 * follower → preCandidate → candidate, while a leadership transfer (MsgTimeoutNow) goes
 * straight to candidate; a preCandidate that falls back to follower with no leader lost its
 * PreVote.
 */
import type { RaftNode } from 'raft-core';
import type { ClusterEvent, ElectionReason, StatusPeer } from './schema.js';

export type Draft = Omit<ClusterEvent, 'seq' | 'at' | 'node' | 'term'> & { term?: number };

const HISTORY = 200;

export class EventLog {
  private seq = 0;
  private readonly history: ClusterEvent[] = [];
  private readonly listeners = new Set<(e: ClusterEvent) => void>();
  private readonly offs: Array<() => void> = [];
  private readonly timer: ReturnType<typeof setInterval>;
  private role: string;
  private campaignReason: ElectionReason = 'timeout';
  private members: string;
  /** Leader only: last seen per-peer state, to report sends and reachability flips. */
  private peerSeen = new Map<string, { state: string; reachable: boolean; pending: number }>();

  constructor(
    private readonly node: RaftNode<unknown>,
    private readonly peers: () => readonly StatusPeer[],
    pollMs: number,
  ) {
    const s = node.status();
    this.role = s.role;
    this.members = membersKey(s.confState.voters, s.confState.learners);
    this.offs.push(
      node.on('roleChange', ({ role, term }) => this.onRole(role, term)),
      node.on('leaderChange', ({ leader, term }) =>
        this.add({
          kind: 'leader',
          term,
          text:
            leader === null ? `${node.id} lost the leader at term ${term}` : `leader is ${leader}`,
          ...(leader !== null && { subject: leader }),
        }),
      ),
      node.on('snapshot', ({ index, bytes, installed }) =>
        this.add({
          kind: 'snapshot',
          index,
          bytes,
          text: installed
            ? `${node.id} installed the leader's snapshot at index ${index} (${bytes} bytes)`
            : `${node.id} took a snapshot at index ${index} (${bytes} bytes)`,
        }),
      ),
    );
    this.timer = setInterval(() => this.poll(), pollMs);
    this.timer.unref();
  }

  /** Events still kept, oldest first. */
  recent(): readonly ClusterEvent[] {
    return this.history;
  }

  subscribe(fn: (e: ClusterEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    clearInterval(this.timer);
    for (const off of this.offs) off();
    this.listeners.clear();
  }

  /** Records an observation made elsewhere in this node (e.g. the cluster feed's). */
  record(d: Draft): void {
    this.add(d);
  }

  private add(d: Draft): void {
    const e: ClusterEvent = {
      ...d,
      seq: ++this.seq,
      at: Date.now(),
      node: this.node.id,
      term: d.term ?? this.node.status().term,
    };
    this.history.push(e);
    if (this.history.length > HISTORY) this.history.shift();
    for (const l of this.listeners) l(e);
  }

  private onRole(role: string, term: number): void {
    const prev = this.role;
    this.role = role;
    const id = this.node.id;
    const election = (reason: ElectionReason, text: string): void =>
      this.add({ kind: 'election', reason, term, text });
    if (role === 'preCandidate') {
      this.campaignReason = 'timeout';
      election('timeout', `${id} timed out waiting for a leader: PreVote for term ${term + 1}`);
    } else if (role === 'candidate') {
      if (prev === 'preCandidate') {
        election('timeout', `${id} won the PreVote and campaigns at term ${term}`);
      } else {
        this.campaignReason = 'transfer';
        election('transfer', `${id} campaigns at term ${term} (leadership transfer)`);
      }
    } else if (role === 'leader') {
      this.peerSeen.clear();
      election('won', `${id} became leader at term ${term} (${reasonText(this.campaignReason)})`);
    } else if (prev === 'preCandidate' && this.node.leader === null) {
      election('prevote-lost', `${id} lost the PreVote at term ${term}`);
    } else if (prev === 'candidate') {
      election('lost', `${id} lost the election at term ${term}`);
    } else {
      this.add({ kind: 'role', term, text: `${id} became ${role} at term ${term}` });
    }
  }

  /** Observations without an event of their own: membership, snapshot sends, reachability. */
  private poll(): void {
    const s = this.node.status();
    if (s.stopped) return;
    const key = membersKey(s.confState.voters, s.confState.learners);
    if (key !== this.members) {
      this.add({ kind: 'membership', text: `${s.id} applied a new configuration: ${key}` });
      this.members = key;
    }
    if (s.role !== 'leader') {
      this.peerSeen.clear();
      return;
    }
    const now = new Map<string, { state: string; reachable: boolean; pending: number }>();
    for (const p of this.peers()) {
      const cur = { state: p.state, reachable: p.active, pending: p.pendingSnapshot };
      const was = this.peerSeen.get(p.id);
      // A peer first seen unreachable (just elected, nothing heard yet) is not news.
      const prevReach = was?.reachable ?? true;
      if (prevReach && !cur.reachable && was !== undefined) {
        this.add({
          kind: 'down',
          subject: p.id,
          text: `${s.id} (leader) has not heard from ${p.id} within an election timeout`,
        });
      } else if (!prevReach && cur.reachable) {
        this.add({ kind: 'up', subject: p.id, text: `${s.id} (leader) hears from ${p.id} again` });
      }
      if (cur.state === 'snapshot' && (was?.state !== 'snapshot' || was.pending !== cur.pending)) {
        this.add({
          kind: 'snapshot',
          subject: p.id,
          index: cur.pending,
          text: `${s.id} sends its snapshot at index ${cur.pending} to ${p.id}`,
        });
      }
      now.set(p.id, was === undefined && !cur.reachable ? { ...cur, reachable: true } : cur);
    }
    this.peerSeen = now;
  }
}

function membersKey(voters: readonly string[], learners: readonly string[]): string {
  const v = `voters ${[...voters].sort().join(',')}`;
  return learners.length === 0 ? v : `${v}; learners ${[...learners].sort().join(',')}`;
}

function reasonText(r: ElectionReason): string {
  return r === 'transfer' ? 'leadership transfer' : 'election timeout';
}
