/**
 * `Directory` knows every member's HTTP and raft peer address. Founding members come from
 * `--cluster`; members added later carry `{peer, http}` in the context of their ConfChange
 * entry (as etcd-io/raft does), so every node — also one restarted or restored from a snapshot — learns
 * them from the log. The directory keeps the transport's peer list in step with it.
 */
import type { ClusterMember } from './cli.js';

/** The JSON kept in a ConfChange's context. */
export interface MemberContext {
  readonly peer: string;
  readonly http: string;
}

/** Parses a ConfChange context; `null` when it is not kvapi's `{peer, http}`. */
export function parseMemberContext(context: string | undefined): MemberContext | null {
  if (context === undefined || context === '') return null;
  try {
    const v = JSON.parse(context) as Partial<MemberContext> | null;
    if (v !== null && typeof v.peer === 'string' && typeof v.http === 'string') {
      return { peer: v.peer, http: v.http };
    }
  } catch {
    // not ours
  }
  return null;
}

export interface PeerSink {
  addPeer(id: string, address: string): void;
  removePeer(id: string): void;
}

/** Turns a listen address (`:PORT`, `0.0.0.0:PORT`) into one this machine can dial. */
export function dialable(address: string): string {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = address.slice(i + 1);
  if (host === '' || host === '0.0.0.0') return `127.0.0.1:${port}`;
  if (host === '[::]') return `[::1]:${port}`;
  return address;
}

export class Directory {
  private readonly founders = new Map<string, MemberContext>();
  private learned = new Map<string, MemberContext>();
  /** The ids currently handed to the transport, with the address given. */
  private readonly wired = new Map<string, string>();

  constructor(
    private readonly self: string,
    cluster: readonly ClusterMember[],
    private readonly sink: PeerSink,
    /** Founders' addresses win over learned ones (kvapi `--pin-peers`). */
    private readonly pinned = false,
  ) {
    for (const m of cluster) this.founders.set(m.id, { peer: m.peer, http: m.http });
    this.sync();
  }

  /** Replaces what the log says about members (from `KvStateMachine.members()`). */
  setLearned(members: ReadonlyMap<string, string>): void {
    const next = new Map<string, MemberContext>();
    for (const [id, ctx] of members) {
      const m = parseMemberContext(ctx);
      if (m !== null) next.set(id, m);
    }
    this.learned = next;
    this.sync();
  }

  /** Records an address before its ConfChange commits (the leader dials the learner at once). */
  remember(id: string, m: MemberContext): void {
    this.learned.set(id, m);
    this.sync();
  }

  get(id: string): MemberContext | undefined {
    if (this.pinned) return this.founders.get(id) ?? this.learned.get(id);
    return this.learned.get(id) ?? this.founders.get(id);
  }

  /** The HTTP address to dial for `id`, or null. */
  httpOf(id: string | null): string | null {
    if (id === null) return null;
    const m = this.get(id);
    return m === undefined ? null : dialable(m.http);
  }

  ids(): string[] {
    return [...new Set([...this.founders.keys(), ...this.learned.keys()])];
  }

  private sync(): void {
    const want = new Map<string, string>();
    for (const id of this.ids()) {
      if (id === this.self) continue;
      const m = this.get(id);
      if (m !== undefined) want.set(id, dialable(m.peer));
    }
    for (const [id, addr] of want) {
      if (this.wired.get(id) === addr) continue;
      this.sink.addPeer(id, addr);
      this.wired.set(id, addr);
    }
    for (const id of [...this.wired.keys()]) {
      if (want.has(id)) continue;
      this.sink.removePeer(id);
      this.wired.delete(id);
    }
  }
}
