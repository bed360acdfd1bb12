/**
 * An in-memory, synchronous message-passing harness over {@link Raft} instances, in the spirit
 * of etcd's `newNetwork`/`send`: a message is stepped into its destination, whose outgoing
 * messages are queued and delivered in turn until the network is quiet.
 *
 * Persistence is emulated: after every step the node's appended entries are treated as durable
 * at once (`onStable`), so `msgs` and `msgsAfterPersist` may both go out. Tests of the
 * persistence contract itself drive `Raft`/`RawNode` by hand instead.
 */
import type { RaftConfig } from '../../src/config.js';
import { Raft, type RaftState } from '../../src/raft.js';
import { Rng } from '../../src/testing/rng.js';
import {
  type Entry,
  EntryType,
  type Index,
  type Message,
  type MessageType,
  type MsgApp,
  type MsgAppResp,
  type NodeId,
  type Term,
} from '../../src/types.js';

const EMPTY = new Uint8Array(0);

/** Options of {@link newRaft}. PreVote and CheckQuorum are required: each test says which protocol it runs. */
export interface TestRaftOptions {
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Voters. Default `['1', '2', '3']`. */
  readonly peers?: readonly NodeId[];
  /** Terms of the initial (durable) log, from index 1 on. */
  readonly log?: readonly Term[];
  readonly term?: Term;
  readonly vote?: NodeId | null;
  readonly commit?: Index;
  /** Seed of the node's PRNG. Default: derived from the id. */
  readonly seed?: number;
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  readonly maxInflightMsgs?: number;
  readonly maxSizePerMsg?: number;
}

/** The paper's protocol: no PreVote, no CheckQuorum (both default to on in raft-core). */
export const PAPER = { preVote: false, checkQuorum: false } as const;

/** Entries with the given terms and empty data; `terms[i]` gets index `start + i`. */
export function ents(terms: readonly Term[], start: Index = 1): Entry[] {
  return terms.map((term, i) => ({ index: start + i, term, type: EntryType.Normal, data: EMPTY }));
}

/** The constructor arguments of a `Raft` (or `RawNode`) described by `o`. */
export function raftArgs(id: NodeId, o: TestRaftOptions): [RaftConfig, RaftState] {
  let seed = o.seed;
  if (seed === undefined) {
    seed = 7;
    for (const c of id) seed = (seed * 31 + c.charCodeAt(0)) >>> 0;
  }
  const rng = new Rng(seed);
  const config: RaftConfig = {
    id,
    random: () => rng.next(),
    preVote: o.preVote,
    checkQuorum: o.checkQuorum,
    electionTick: o.electionTick ?? 10,
    heartbeatTick: o.heartbeatTick ?? 1,
    ...(o.maxInflightMsgs !== undefined ? { maxInflightMsgs: o.maxInflightMsgs } : {}),
    ...(o.maxSizePerMsg !== undefined ? { maxSizePerMsg: o.maxSizePerMsg } : {}),
  };
  const state: RaftState = {
    hardState: { term: o.term ?? 0, vote: o.vote ?? null, commit: o.commit ?? 0 },
    confState: {
      voters: o.peers ?? ['1', '2', '3'],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    },
    snapshotIndex: 0,
    snapshotTerm: 0,
    entries: ents(o.log ?? []),
  };
  return [config, state];
}

export function newRaft(id: NodeId, o: TestRaftOptions): Raft {
  return new Raft(...raftArgs(id, o));
}

/** Every entry of `r`'s log, in order. */
export function logOf(r: Raft): Entry[] {
  return r.log.slice(r.log.firstIndex(), r.log.lastIndex() + 1);
}

/** The terms of `r`'s log, index 1 on. */
export function termsOf(r: Raft): Term[] {
  return logOf(r).map((e) => e.term);
}

/** Emulates the driver making every appended entry durable (what `RawNode.advance` reports). */
export function persist(r: Raft): void {
  r.onStable(r.log.lastIndex(), r.log.lastTerm());
}

/** Takes `r`'s outgoing messages (send-now first, then after-persist) without persisting. */
export function takeMessages(r: Raft): Message[] {
  const out = [...r.msgs, ...r.msgsAfterPersist];
  r.msgs = [];
  r.msgsAfterPersist = [];
  return out;
}

/** One Ready cycle in miniature: broadcast batched appends, persist, and take the messages. */
export function readMessages(r: Raft): Message[] {
  r.flushAppends();
  persist(r);
  return takeMessages(r);
}

/** The follower's acceptance of `m` as a successful MsgAppResp. */
export function acceptAndReply(m: Message): MsgAppResp {
  if (m.type !== 'MsgApp') throw new Error(`acceptAndReply: expected MsgApp, got ${m.type}`);
  return {
    type: 'MsgAppResp',
    from: m.to,
    to: m.from,
    term: m.term,
    index: m.index + m.entries.length,
    reject: false,
    hintIndex: 0,
    hintTerm: 0,
  };
}

/** An AppendEntries with defaults for everything but the routing and term. */
export function msgApp(
  m: Pick<MsgApp, 'from' | 'to' | 'term'> & Partial<Omit<MsgApp, 'type'>>,
): MsgApp {
  return { type: 'MsgApp', index: 0, logTerm: 0, entries: [], commit: 0, ...m };
}

/** Sorts messages by destination (then type) for order-independent comparisons. */
export function byDestination<M extends Message>(ms: readonly M[]): M[] {
  return [...ms].sort((a, b) =>
    a.to === b.to ? a.type.localeCompare(b.type) : a.to.localeCompare(b.to),
  );
}

/** A predicate that decides a message is lost. */
export type DropRule = (m: Message) => boolean;

/** A message the network handled, and whether it reached a node. */
export interface TraceEntry {
  readonly m: Message;
  readonly delivered: boolean;
}

/**
 * `Network` connects `Raft` instances. Messages to an id with no node are lost (a black hole,
 * like etcd's `nopStepper`), as are messages matched by a drop rule.
 */
export class Network {
  readonly nodes = new Map<NodeId, Raft>();
  /** Every message handed to the network, in delivery order. */
  readonly trace: TraceEntry[] = [];
  private rules: DropRule[] = [];

  constructor(...rafts: Raft[]) {
    for (const r of rafts) this.nodes.set(r.id, r);
  }

  node(id: NodeId): Raft {
    const r = this.nodes.get(id);
    if (r === undefined) throw new Error(`no node ${id}`);
    return r;
  }

  /** Delivers `msgs` and everything they cause, breadth-first, until no message is left. */
  send(...msgs: Message[]): void {
    const queue = [...msgs];
    let budget = 100_000;
    for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
      if (--budget === 0) throw new Error('network did not quiesce');
      const to = this.nodes.get(m.to);
      const delivered = to !== undefined && !this.rules.some((rule) => rule(m));
      this.trace.push({ m, delivered });
      if (!delivered) continue;
      to.step(m);
      queue.push(...readMessages(to));
    }
  }

  /** Flushes what `id` has to say (e.g. after a direct call on the node) into the network. */
  flush(id: NodeId): void {
    this.send(...readMessages(this.node(id)));
  }

  /** Starts an election at `id` (as if its election timeout elapsed) and runs it to the end. */
  campaign(id: NodeId): void {
    this.node(id).hup('election');
    this.flush(id);
  }

  propose(id: NodeId, data: Uint8Array): { index: Index; term: Term } {
    const r = this.node(id).propose(data);
    this.flush(id);
    return r;
  }

  /** Ticks `id` `n` times, delivering what each tick causes. */
  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.node(id).tick();
      this.flush(id);
    }
  }

  /** Loses every message matched by `rule` until {@link recover}. */
  drop(rule: DropRule): void {
    this.rules.push(rule);
  }

  /** Loses every message between `a` and `b`, both ways. */
  cut(a: NodeId, b: NodeId): void {
    this.drop((m) => (m.from === a && m.to === b) || (m.from === b && m.to === a));
  }

  /** Loses every message to or from `id`. */
  isolate(id: NodeId): void {
    this.drop((m) => m.from === id || m.to === id);
  }

  /** Loses every message of type `type`. */
  ignore(type: MessageType): void {
    this.drop((m) => m.type === type);
  }

  /** Removes every drop rule. */
  recover(): void {
    this.rules = [];
  }

  /** Delivered messages matching `pred`. */
  delivered(pred: (m: Message) => boolean): Message[] {
    return this.trace.filter((t) => t.delivered && pred(t.m)).map((t) => t.m);
  }
}
