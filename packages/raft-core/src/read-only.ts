import type { Index, NodeId } from './types.js';

/** A read request waiting for its heartbeat round (thesis §6.4). */
export interface ReadRequest {
  /** Who asked: this node (a local read) or a follower (MsgReadIndex). */
  readonly from: NodeId;
  /** The requester's context, echoed back. */
  readonly context: number;
}

interface ReadStatus {
  readonly id: number;
  readonly index: Index;
  readonly requests: ReadRequest[];
  readonly acks: Set<NodeId>;
}

/**
 * `ReadOnly` tracks ReadIndex requests on the leader: each round records the commit index when
 * it started and the voters that acknowledged a heartbeat carrying its id. Once a quorum
 * acknowledged a round, it and every earlier round may be answered (thesis §6.4 step 3).
 */
export class ReadOnly {
  private readonly queue: ReadStatus[] = [];
  private readonly byId = new Map<number, ReadStatus>();

  get size(): number {
    return this.queue.length;
  }

  /** The id of the newest pending round, or 0 when none is pending. */
  lastId(): number {
    return this.queue.length === 0 ? 0 : (this.queue[this.queue.length - 1] as ReadStatus).id;
  }

  /** Starts a round for `requests` at commit index `index`. */
  add(id: number, index: Index, requests: ReadRequest[], self: NodeId): void {
    const st: ReadStatus = { id, index, requests, acks: new Set([self]) };
    this.queue.push(st);
    this.byId.set(id, st);
  }

  /** Records `from`'s acknowledgement of round `id`; returns its ack set (or undefined). */
  recvAck(id: number, from: NodeId): ReadonlySet<NodeId> | undefined {
    const st = this.byId.get(id);
    if (st === undefined) return undefined;
    st.acks.add(from);
    return st.acks;
  }

  /** Removes round `id` and every earlier round; returns them, oldest first. */
  advance(id: number): { id: number; index: Index; requests: ReadRequest[] }[] {
    const i = this.queue.findIndex((s) => s.id === id);
    if (i < 0) return [];
    const done = this.queue.splice(0, i + 1);
    for (const s of done) this.byId.delete(s.id);
    return done.map((s) => ({ id: s.id, index: s.index, requests: s.requests }));
  }

  /** Drops every round (leadership lost); returns their requests. */
  reset(): ReadRequest[] {
    const all = this.queue.flatMap((s) => s.requests);
    this.queue.length = 0;
    this.byId.clear();
    return all;
  }
}
