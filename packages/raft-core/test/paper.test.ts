/**
 * The Raft paper, sentence by sentence (Ongaro & Ousterhout, "In Search of an Understandable
 * Consensus Algorithm (Extended Version)", §5), in the spirit of etcd's `raft_paper_test.go`,
 * followed by the protocol extensions raft-core implements (Ongaro's thesis, 2014).
 *
 * Each test sets up a state, drives it with `step`/`tick`/`hup`/`propose`, and checks the
 * outgoing messages and the resulting state. Paper tests run the paper's protocol (PreVote
 * and CheckQuorum off); the extension tests say which knobs they turn on.
 */
import { describe, expect, it } from 'vitest';
import { NotLeaderError } from '../src/errors.js';
import type { Raft } from '../src/raft.js';
import { RawNode } from '../src/raw-node.js';
import {
  type Entry,
  EntryType,
  type Message,
  type MsgApp,
  type MsgVote,
  type NodeId,
  type Role,
  type Term,
} from '../src/types.js';
import {
  acceptAndReply,
  byDestination,
  ents,
  logOf,
  msgApp,
  Network,
  newRaft,
  PAPER,
  raftArgs,
  readMessages,
  takeMessages,
  termsOf,
} from './support/network.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const idsOf = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => String(i + 1));
const range = (lo: number, hi: number): number[] =>
  Array.from({ length: hi - lo }, (_, i) => lo + i);

/** An entry as the leader stamps it. */
const entry = (index: number, term: Term, data: Uint8Array = new Uint8Array(0)): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data,
});

/** Puts `r` in `role` at term 1 (a pre-candidate stays at term 1: PreVote does not bump terms). */
function toRole(r: Raft, role: Role): void {
  switch (role) {
    case 'follower':
      r.becomeFollower(1, '2');
      return;
    case 'preCandidate':
      r.becomeFollower(1, null);
      r.becomePreCandidate();
      return;
    case 'candidate':
      r.becomeCandidate();
      return;
    case 'leader':
      r.becomeCandidate();
      r.becomeLeader();
      return;
  }
}

/**
 * Replicates a fresh leader's no-op entry to every follower and applies it, so that the
 * followers are in replicate state and the log is fully committed (etcd's `commitNoopEntry`).
 */
function commitNoop(r: Raft): void {
  if (r.role !== 'leader') throw new Error('commitNoop: not leader');
  for (const m of readMessages(r)) {
    if (m.type !== 'MsgApp' || m.entries.length !== 1 || m.entries[0]?.data.length !== 0) {
      throw new Error(`commitNoop: unexpected ${m.type}`);
    }
    r.step(acceptAndReply(m));
  }
  takeMessages(r);
  if (r.log.committed !== r.log.lastIndex()) throw new Error('commitNoop: no-op not committed');
  r.log.appliedTo(r.log.committed);
}

/** Figure 7: the leader's log (index 1–10) and the six possible follower logs. */
const FIGURE_7_LEADER: Term[] = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
const FIGURE_7 = [
  { name: 'a', follower: [1, 1, 1, 4, 4, 5, 5, 6, 6], rejections: 1 },
  { name: 'b', follower: [1, 1, 1, 4], rejections: 1 },
  { name: 'c', follower: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], rejections: 0 },
  { name: 'd', follower: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], rejections: 0 },
  { name: 'e', follower: [1, 1, 1, 4, 4, 4, 4], rejections: 1 },
  { name: 'f', follower: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], rejections: 1 },
];

/**
 * Node 1 holds Figure 7's leader log (all committed, term 8) and wins the election of term 9;
 * node 2 holds `follower`; node 3 is a black hole whose vote is forged, because followers
 * (c) and (d) have more up-to-date logs and refuse theirs.
 */
function figure7(follower: readonly Term[], leaderLog: readonly Term[] = FIGURE_7_LEADER) {
  const lead = newRaft('1', { ...PAPER, log: leaderLog, term: 8, commit: leaderLog.length });
  const peer = newRaft('2', { ...PAPER, log: follower, term: 7 });
  const net = new Network(lead, peer);
  net.campaign('1');
  net.send({ type: 'MsgVoteResp', from: '3', to: '1', term: lead.term, reject: false });
  return { net, lead, peer };
}

// -------------------------------------------------------------------------------------------------

describe('§5.1 Raft basics', () => {
  // §5.1: "If one server's current term is smaller than the other's, then it updates its
  // current term to the larger value. If a candidate or leader discovers that its term is out of
  // date, it immediately reverts to follower state."
  const higherTerm: Record<string, (term: Term) => Message> = {
    MsgApp: (term) => msgApp({ from: '2', to: '1', term }),
    MsgHeartbeat: (term) => ({
      type: 'MsgHeartbeat',
      from: '2',
      to: '1',
      term,
      commit: 0,
      context: 0,
    }),
    MsgVote: (term) => ({
      type: 'MsgVote',
      from: '2',
      to: '1',
      term,
      index: 0,
      logTerm: 0,
      transfer: false,
    }),
    MsgAppResp: (term) => ({
      type: 'MsgAppResp',
      from: '2',
      to: '1',
      term,
      index: 0,
      reject: true,
      hintIndex: 0,
      hintTerm: 0,
    }),
  };
  const roles: Role[] = ['follower', 'preCandidate', 'candidate', 'leader'];
  const cases = roles.flatMap((role) => Object.keys(higherTerm).map((type) => ({ role, type })));

  it.each(cases)(
    'a $role at term 1 that sees $type at term 2 moves to term 2 as a follower',
    ({ role, type }) => {
      const r = newRaft('1', PAPER);
      toRole(r, role);
      expect(r.term).toBe(1);
      r.step((higherTerm[type] as (t: Term) => Message)(2));
      expect(r.term).toBe(2);
      expect(r.role).toBe('follower');
      // Only a leader's message (AppendEntries/heartbeat) says who leads the new term.
      expect(r.lead).toBe(type === 'MsgApp' || type === 'MsgHeartbeat' ? '2' : null);
    },
  );

  // §5.1: "If a server receives a request with a stale term number, it rejects the request."
  // Like etcd, raft-core ignores it in the paper's protocol: nothing changes, nothing is sent.
  it('ignores an AppendEntries, heartbeat or RequestVote with a stale term', () => {
    const r = newRaft('1', { ...PAPER, term: 2 });
    r.step(msgApp({ from: '2', to: '1', term: 1, entries: ents([1]), commit: 1 }));
    r.step({ type: 'MsgHeartbeat', from: '2', to: '1', term: 1, commit: 1, context: 0 });
    r.step({
      type: 'MsgVote',
      from: '3',
      to: '1',
      term: 1,
      index: 5,
      logTerm: 1,
      transfer: false,
    });
    expect(r.term).toBe(2);
    expect(r.role).toBe('follower');
    expect(r.lead).toBeNull();
    expect(r.vote).toBeNull();
    expect(r.log.lastIndex()).toBe(0);
    expect(r.log.committed).toBe(0);
    expect(takeMessages(r)).toEqual([]);
  });

  // §5.1 "rejects the request", for responses: a vote granted in an older term does not count.
  it('a candidate does not count votes granted in an earlier term', () => {
    const r = newRaft('1', PAPER);
    r.hup('election');
    r.hup('election');
    expect(r.term).toBe(2);
    for (const from of ['2', '3']) {
      r.step({ type: 'MsgVoteResp', from, to: '1', term: 1, reject: false });
    }
    expect(r.role).toBe('candidate');
    expect(r.tracker.tallyVotes().granted).toBe(1);
  });

  // §5.1 "rejects the request", for responses: an ack from an older term moves no match index.
  it('a leader ignores an append acknowledgement from an earlier term', () => {
    const r = newRaft('1', { ...PAPER, term: 1 });
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    r.step({
      type: 'MsgAppResp',
      from: '2',
      to: '1',
      term: 1,
      index: 1,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(r.tracker.progress.get('2')?.match).toBe(0);
    expect(r.log.committed).toBe(0);
  });

  // §5.1, with CheckQuorum/PreVote: the stale request is answered with the current term, so that
  // a deposed leader learns it is out of date and "immediately reverts to follower state".
  it('with CheckQuorum, answers a stale leader with its term so the stale leader steps down', () => {
    const opts = { preVote: true, checkQuorum: true } as const;
    const stale = newRaft('2', opts);
    stale.becomeCandidate();
    stale.becomeLeader();
    expect(stale.term).toBe(1);
    const r = newRaft('1', { ...opts, term: 2 });
    const net = new Network(r, stale);
    net.send(msgApp({ from: '2', to: '1', term: 1, entries: ents([1]) }));
    expect(r.term).toBe(2);
    expect(r.log.lastIndex()).toBe(0);
    expect(net.delivered((m) => m.from === '1')).toMatchObject([
      { type: 'MsgAppResp', to: '2', term: 2 },
    ]);
    expect(stale.role).toBe('follower');
    expect(stale.term).toBe(2);
  });
});

// -------------------------------------------------------------------------------------------------

describe('§5.2 Leader election', () => {
  // §5.2: "When servers start up, they begin as followers."
  it('a server starts as a follower, with the term and vote it persisted', () => {
    const fresh = newRaft('1', PAPER);
    expect([fresh.role, fresh.term, fresh.vote, fresh.lead]).toEqual(['follower', 0, null, null]);
    const restarted = newRaft('1', { ...PAPER, term: 5, vote: '3', log: [1, 5] });
    expect([restarted.role, restarted.term, restarted.vote, restarted.lead]).toEqual([
      'follower',
      5,
      '3',
      null,
    ]);
    expect(takeMessages(restarted)).toEqual([]);
  });

  // §5.2: "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all
  // followers in order to maintain their authority."
  it('a leader sends an entry-less heartbeat to every follower each heartbeatTick ticks', () => {
    const r = newRaft('1', { ...PAPER, heartbeatTick: 3 });
    r.becomeCandidate();
    r.becomeLeader();
    for (let i = 0; i < 5; i++) r.propose(enc(`e${i}`));
    takeMessages(r);
    for (let round = 0; round < 3; round++) {
      r.tick();
      r.tick();
      expect(takeMessages(r)).toEqual([]);
      r.tick();
      expect(byDestination(takeMessages(r))).toEqual([
        { type: 'MsgHeartbeat', from: '1', to: '2', term: 1, commit: 0, context: 0 },
        { type: 'MsgHeartbeat', from: '1', to: '3', term: 1, commit: 0, context: 0 },
      ]);
    }
  });

  // §5.2: "If a follower receives no communication over a period of time called the election
  // timeout, then it assumes there is no viable leader and begins an election to choose a new
  // leader. To begin an election, a follower increments its current term and transitions to
  // candidate state. It then votes for itself and issues RequestVote RPCs in parallel to each of
  // the other servers in the cluster."
  // §5.2: "each candidate will time out and start a new election by incrementing its term and
  // initiating another round of RequestVote RPCs."
  it.each(['follower', 'candidate'] as const)(
    'a %s that hears nothing for an election timeout starts an election',
    (role) => {
      const et = 10;
      const r = newRaft('1', { ...PAPER, electionTick: et });
      toRole(r, role);
      for (let i = 1; i < et; i++) r.tick();
      expect([r.role, r.term]).toEqual([role, 1]);
      // The randomized timeout is in [et, 2·et): by tick 2·et − 1 exactly one election started.
      for (let i = et; i < 2 * et; i++) r.tick();
      expect([r.role, r.term, r.vote]).toEqual(['candidate', 2, '1']);
      expect(r.tracker.tallyVotes().granted).toBe(1);
      expect(r.msgs).toEqual([]);
      expect(byDestination(r.msgsAfterPersist)).toEqual([
        { type: 'MsgVote', from: '1', to: '2', term: 2, index: 0, logTerm: 0, transfer: false },
        { type: 'MsgVote', from: '1', to: '3', term: 2, index: 0, logTerm: 0, transfer: false },
      ]);
    },
  );

  // §5.2: "Raft uses randomized election timeouts to ensure that split votes are rare and that
  // they are resolved quickly. To prevent split votes in the first place, election timeouts are
  // chosen randomly from a fixed interval".
  it.each(['follower', 'candidate'] as const)(
    "a %s's election timeout is drawn from the injected PRNG, spread over [electionTick, 2·electionTick)",
    (role) => {
      const et = 10;
      const seen = new Map<number, number>();
      const timeout = (seed: number): number => {
        const r = newRaft('1', { ...PAPER, electionTick: et, seed });
        toRole(r, role);
        let ticks = 0;
        while (r.term === 1 && ticks <= 3 * et) {
          r.tick();
          ticks++;
        }
        return ticks;
      };
      for (let seed = 0; seed < 500; seed++) {
        const t = timeout(seed);
        seen.set(t, (seen.get(t) ?? 0) + 1);
      }
      expect([...seen.keys()].sort((a, b) => a - b)).toEqual(range(et, 2 * et));
      // Roughly uniform: 50 expected per value; a stuck or skewed draw would pile up.
      expect(Math.max(...seen.values())).toBeLessThan(100);
      // Deterministic: the same seed gives the same timeout.
      expect(timeout(42)).toBe(timeout(42));
    },
  );

  // §5.2: "This spreads out the servers so that in most cases only a single server will time
  // out; it wins the election and sends heartbeats before any other servers time out."
  it.each(['follower', 'candidate'] as const)(
    'randomized timeouts make simultaneous %s timeouts rare',
    (role) => {
      const ids = idsOf(5);
      const rs = ids.map((id) => newRaft(id, { ...PAPER, peers: ids }));
      let conflicts = 0;
      for (let round = 0; round < 1000; round++) {
        for (const r of rs) {
          if (role === 'follower') r.becomeFollower(r.term + 1, null);
          else r.becomeCandidate();
        }
        let timedOut = 0;
        while (timedOut === 0) {
          for (const r of rs) {
            const term = r.term;
            r.tick();
            takeMessages(r);
            if (r.term !== term) timedOut++;
          }
        }
        if (timedOut > 1) conflicts++;
      }
      expect(conflicts / 1000).toBeLessThanOrEqual(0.3);
    },
  );

  // §5.2: "A candidate continues in this state until one of three things happens: (a) it wins
  // the election, (b) another server establishes itself as leader, or (c) a period of time goes
  // by with no winner." "A candidate wins an election if it receives votes from a majority of
  // the servers in the full cluster for the same term." A candidate rejected by a majority
  // cannot win this term, and returns to follower (etcd).
  it.each([
    // (a) wins with a majority.
    { size: 1, votes: {}, want: 'leader' },
    { size: 3, votes: { 2: true, 3: true }, want: 'leader' },
    { size: 3, votes: { 2: true }, want: 'leader' },
    { size: 5, votes: { 2: true, 3: true, 4: true, 5: true }, want: 'leader' },
    { size: 5, votes: { 2: true, 3: true, 4: true }, want: 'leader' },
    { size: 5, votes: { 2: true, 3: true }, want: 'leader' },
    // Rejected by a majority: back to follower.
    { size: 3, votes: { 2: false, 3: false }, want: 'follower' },
    { size: 5, votes: { 2: false, 3: false, 4: false, 5: false }, want: 'follower' },
    { size: 5, votes: { 2: true, 3: false, 4: false, 5: false }, want: 'follower' },
    // (c) no majority either way: still a candidate.
    { size: 3, votes: {}, want: 'candidate' },
    { size: 3, votes: { 2: false }, want: 'candidate' },
    { size: 5, votes: { 2: true }, want: 'candidate' },
    { size: 5, votes: { 2: false, 3: false }, want: 'candidate' },
    { size: 5, votes: { 2: true, 3: false, 4: false }, want: 'candidate' },
    { size: 5, votes: {}, want: 'candidate' },
  ] as { size: number; votes: Record<string, boolean>; want: Role }[])(
    'one round of RequestVote in a cluster of $size with votes $votes ends $want',
    ({ size, votes, want }) => {
      const r = newRaft('1', { ...PAPER, peers: idsOf(size) });
      r.hup('election');
      for (const [from, granted] of Object.entries(votes)) {
        r.step({ type: 'MsgVoteResp', from, to: '1', term: r.term, reject: !granted });
      }
      expect(r.role).toBe(want);
      expect(r.term).toBe(1);
    },
  );

  // §5.2: "Each server will vote for at most one candidate in a given term, on a
  // first-come-first-served basis".
  it.each([
    { vote: null, candidate: '2', reject: false },
    { vote: null, candidate: '3', reject: false },
    { vote: '2', candidate: '2', reject: false },
    { vote: '3', candidate: '3', reject: false },
    { vote: '2', candidate: '3', reject: true },
    { vote: '3', candidate: '2', reject: true },
  ])(
    'a follower that voted for $vote answers $candidate with reject=$reject',
    ({ vote, candidate, reject }) => {
      const r = newRaft('1', { ...PAPER, term: 1, vote });
      r.step({
        type: 'MsgVote',
        from: candidate,
        to: '1',
        term: 1,
        index: 0,
        logTerm: 0,
        transfer: false,
      });
      expect(r.msgs).toEqual([]);
      expect(r.msgsAfterPersist).toEqual([
        { type: 'MsgVoteResp', from: '1', to: candidate, term: 1, reject },
      ]);
      expect(r.vote).toBe(vote ?? candidate);
    },
  );

  // §5.2 "first-come-first-served", as a sequence: the first request of the term wins the vote.
  it('a follower grants its vote to the first candidate of a term and refuses the second', () => {
    const r = newRaft('1', { ...PAPER, term: 1 });
    const ask = (from: NodeId): MsgVote => ({
      type: 'MsgVote',
      from,
      to: '1',
      term: 2,
      index: 0,
      logTerm: 0,
      transfer: false,
    });
    r.step(ask('3'));
    r.step(ask('2'));
    r.step(ask('3'));
    expect(r.vote).toBe('3');
    expect(takeMessages(r)).toEqual([
      { type: 'MsgVoteResp', from: '1', to: '3', term: 2, reject: false },
      { type: 'MsgVoteResp', from: '1', to: '2', term: 2, reject: true },
      { type: 'MsgVoteResp', from: '1', to: '3', term: 2, reject: false },
    ]);
  });

  // §5.2: "While waiting for votes, a candidate may receive an AppendEntries RPC from another
  // server claiming to be leader. If the leader's term (included in its RPC) is at least as
  // large as the candidate's current term, then the candidate recognizes the leader as
  // legitimate and returns to follower state."
  it.each([
    { type: 'MsgApp', term: 1 },
    { type: 'MsgApp', term: 2 },
    { type: 'MsgHeartbeat', term: 1 },
    { type: 'MsgHeartbeat', term: 2 },
  ] as const)(
    'a candidate at term 1 falls back to follower on $type at term $term',
    ({ type, term }) => {
      const r = newRaft('1', PAPER);
      r.hup('election');
      expect([r.role, r.term]).toEqual(['candidate', 1]);
      r.step(
        type === 'MsgApp'
          ? msgApp({ from: '2', to: '1', term })
          : { type, from: '2', to: '1', term, commit: 0, context: 0 },
      );
      expect([r.role, r.term, r.lead]).toEqual(['follower', term, '2']);
    },
  );

  // §5.2: "If the term in the RPC is smaller than the candidate's current term, then the
  // candidate rejects the RPC and continues in candidate state."
  it('a candidate stays a candidate on an AppendEntries from an older term', () => {
    const r = newRaft('1', PAPER);
    r.hup('election');
    r.hup('election');
    r.step(msgApp({ from: '2', to: '1', term: 1 }));
    expect([r.role, r.term, r.lead]).toEqual(['candidate', 2, null]);
  });
});

// -------------------------------------------------------------------------------------------------

describe('§5.3 Log replication', () => {
  // §5.3: "The leader appends the command to its log as a new entry, then issues AppendEntries
  // RPCs in parallel to each of the other servers to replicate the entry." "When sending an
  // AppendEntries RPC, the leader includes the index and term of the entry in its log that
  // immediately precedes the new entries."
  it('a leader appends a proposal to its log and sends it in AppendEntries to every follower', () => {
    const r = newRaft('1', PAPER);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoop(r);
    const li = r.log.lastIndex();
    const data = enc('some data');
    expect(r.propose(data)).toEqual({ index: li + 1, term: 1 });
    r.flushAppends();
    expect(r.log.lastIndex()).toBe(li + 1);
    expect(r.log.committed).toBe(li);
    const want = [entry(li + 1, 1, data)];
    expect(byDestination(r.msgs)).toEqual([
      {
        type: 'MsgApp',
        from: '1',
        to: '2',
        term: 1,
        index: li,
        logTerm: 1,
        entries: want,
        commit: li,
      },
      {
        type: 'MsgApp',
        from: '1',
        to: '3',
        term: 1,
        index: li,
        logTerm: 1,
        entries: want,
        commit: li,
      },
    ]);
    // The new entry is also handed to storage.
    expect(r.log.unstableEntries()).toEqual(want);
  });

  // §5.3: "A log entry is committed once the leader that created the entry has replicated it on
  // a majority of the servers". "The leader keeps track of the highest index it knows to be
  // committed, and it includes that index in future AppendEntries RPCs (including heartbeats)
  // so that the other servers eventually find out."
  it('a leader commits a replicated entry and tells followers in later appends and heartbeats', () => {
    const r = newRaft('1', PAPER);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoop(r);
    const li = r.log.lastIndex();
    const data = enc('some data');
    r.propose(data);
    for (const m of readMessages(r)) r.step(acceptAndReply(m));
    expect(r.log.committed).toBe(li + 1);
    expect(r.log.nextCommittedEntries(Number.POSITIVE_INFINITY)).toEqual([entry(li + 1, 1, data)]);
    takeMessages(r);

    r.tick();
    expect(byDestination(takeMessages(r))).toMatchObject([
      { type: 'MsgHeartbeat', to: '2', commit: li + 1 },
      { type: 'MsgHeartbeat', to: '3', commit: li + 1 },
    ]);
    r.propose(enc('more'));
    expect(byDestination(readMessages(r))).toMatchObject([
      { type: 'MsgApp', to: '2', commit: li + 1 },
      { type: 'MsgApp', to: '3', commit: li + 1 },
    ]);
  });

  // §5.3 "(including heartbeats)": a heartbeat's commit index is capped at what the leader knows
  // the follower holds, since the follower cannot tell whether its entries beyond that match.
  it("a heartbeat carries the commit index, capped at each follower's match index", () => {
    const r = newRaft('1', PAPER);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoop(r);
    const li = r.log.lastIndex();
    r.propose(enc('a'));
    r.propose(enc('b'));
    for (const m of readMessages(r)) if (m.to === '2') r.step(acceptAndReply(m));
    expect(r.log.committed).toBe(li + 2);
    takeMessages(r);
    r.tick();
    expect(byDestination(takeMessages(r))).toEqual([
      { type: 'MsgHeartbeat', from: '1', to: '2', term: 1, commit: li + 2, context: 0 },
      { type: 'MsgHeartbeat', from: '1', to: '3', term: 1, commit: li, context: 0 },
    ]);
  });

  // §5.3: "A log entry is committed once the leader that created the entry has replicated it on
  // a majority of the servers".
  it.each([
    { size: 1, acceptors: [], committed: true },
    { size: 3, acceptors: [], committed: false },
    { size: 3, acceptors: ['2'], committed: true },
    { size: 3, acceptors: ['2', '3'], committed: true },
    { size: 5, acceptors: [], committed: false },
    { size: 5, acceptors: ['2'], committed: false },
    { size: 5, acceptors: ['2', '3'], committed: true },
    { size: 5, acceptors: ['2', '3', '4'], committed: true },
    { size: 5, acceptors: ['2', '3', '4', '5'], committed: true },
  ])(
    'in a cluster of $size, an entry acked by the leader and $acceptors is committed: $committed',
    ({ size, acceptors, committed }) => {
      const r = newRaft('1', { ...PAPER, peers: idsOf(size) });
      r.becomeCandidate();
      r.becomeLeader();
      commitNoop(r);
      const li = r.log.lastIndex();
      r.propose(enc('some data'));
      for (const m of readMessages(r)) {
        if ((acceptors as string[]).includes(m.to)) r.step(acceptAndReply(m));
      }
      expect(r.log.committed > li).toBe(committed);
    },
  );

  // §5.3: "This also commits all preceding entries in the leader's log, including entries
  // created by previous leaders." "it applies the entry to its local state machine (in log
  // order)."
  it.each([[[]], [[2]], [[1, 2]], [[1]]] as Term[][][])(
    'a leader with log %j from earlier terms commits it together with its own entries',
    (log) => {
      const r = newRaft('1', { ...PAPER, term: 2, log });
      r.becomeCandidate();
      r.becomeLeader();
      const data = enc('some data');
      r.propose(data);
      for (const m of readMessages(r)) r.step(acceptAndReply(m));
      const li = log.length;
      expect(r.log.nextCommittedEntries(Number.POSITIVE_INFINITY)).toEqual([
        ...ents(log),
        entry(li + 1, 3),
        entry(li + 2, 3, data),
      ]);
    },
  );

  // §5.3: "Once a follower learns that a log entry is committed, it applies the entry to its
  // local state machine (in log order)."
  it.each([
    { n: 1, commit: 1 },
    { n: 2, commit: 2 },
    { n: 2, commit: 1 },
    { n: 3, commit: 5 },
  ])(
    'a follower given $n entries and commit $commit commits min(commit, last new)',
    ({ n, commit }) => {
      const r = newRaft('1', PAPER);
      r.becomeFollower(1, '2');
      const sent = range(1, n + 1).map((i) => entry(i, 1, enc(`data${i}`)));
      r.step(msgApp({ from: '2', to: '1', term: 1, entries: sent, commit }));
      const want = Math.min(commit, n);
      expect(r.log.committed).toBe(want);
      expect(r.log.nextCommittedEntries(Number.POSITIVE_INFINITY)).toEqual(sent.slice(0, want));
    },
  );

  // Figure 2 AppendEntries receiver: "5. If leaderCommit > commitIndex, set commitIndex =
  // min(leaderCommit, index of last new entry)": entries after those the append proved to match
  // may still conflict with the leader's log.
  it('a follower commits no further than the last entry the append matched', () => {
    const r = newRaft('1', { ...PAPER, log: [1, 1, 1] });
    r.becomeFollower(2, '2');
    r.step(msgApp({ from: '2', to: '1', term: 2, index: 1, logTerm: 1, commit: 3 }));
    expect(r.log.committed).toBe(1);
    r.step(
      msgApp({
        from: '2',
        to: '1',
        term: 2,
        index: 1,
        logTerm: 1,
        entries: ents([2], 2),
        commit: 3,
      }),
    );
    expect(termsOf(r)).toEqual([1, 2]);
    expect(r.log.committed).toBe(2);
  });

  // §5.3: "If the follower does not find an entry in its log with the same index and term, then
  // it refuses the new entries." Otherwise it replies that it accepts them. A rejection carries
  // the fast-backtracking hint: the follower's last entry at or below the probed index whose
  // term is at most the leader's.
  it.each([
    // Match with a committed entry: the follower answers with its commit index.
    { logTerm: 0, index: 0, want: { index: 1, reject: false, hintIndex: 0, hintTerm: 0 } },
    { logTerm: 1, index: 1, want: { index: 1, reject: false, hintIndex: 0, hintTerm: 0 } },
    // Match with an uncommitted entry.
    { logTerm: 2, index: 2, want: { index: 2, reject: false, hintIndex: 0, hintTerm: 0 } },
    // Mismatch with an existing entry.
    { logTerm: 1, index: 2, want: { index: 2, reject: true, hintIndex: 1, hintTerm: 1 } },
    // No entry at that index.
    { logTerm: 3, index: 3, want: { index: 3, reject: true, hintIndex: 2, hintTerm: 2 } },
  ])(
    'a follower with log [1, 2] answers an append after ($index, $logTerm) with $want',
    ({ logTerm, index, want }) => {
      const r = newRaft('1', { ...PAPER, log: [1, 2], commit: 1 });
      r.becomeFollower(2, '2');
      r.step(msgApp({ from: '2', to: '1', term: 2, index, logTerm }));
      expect(r.msgs).toEqual([]);
      expect(r.msgsAfterPersist).toEqual([
        { type: 'MsgAppResp', from: '1', to: '2', term: 2, ...want },
      ]);
    },
  );

  // §5.3 / Figure 2 AppendEntries receiver: "3. If an existing entry conflicts with a new one
  // (same index but different terms), delete the existing entry and all that follow it. 4.
  // Append any new entries not already in the log." The new entries go to stable storage.
  it.each([
    { index: 2, logTerm: 2, sent: ents([3], 3), log: [1, 2, 3], unstable: ents([3], 3) },
    { index: 1, logTerm: 1, sent: ents([3, 4], 2), log: [1, 3, 4], unstable: ents([3, 4], 2) },
    { index: 0, logTerm: 0, sent: ents([1]), log: [1, 2], unstable: [] },
    { index: 0, logTerm: 0, sent: ents([3]), log: [3], unstable: ents([3]) },
  ])(
    'a follower with log [1, 2] given $sent.length entries after ($index, $logTerm) ends with $log',
    ({ index, logTerm, sent, log, unstable }) => {
      const r = newRaft('1', { ...PAPER, log: [1, 2] });
      r.becomeFollower(2, '2');
      r.step(msgApp({ from: '2', to: '1', term: 2, index, logTerm, entries: sent }));
      expect(logOf(r)).toEqual(ents(log));
      expect(r.log.unstableEntries()).toEqual(unstable);
    },
  );

  // §5.3 / Figure 7: "In Raft, the leader handles inconsistencies by forcing the followers' logs
  // to duplicate its own." Any of (a)–(f) can be the log of a follower when the leader of term 8
  // comes to power; the leader brings each into agreement.
  it.each(FIGURE_7)(
    'the leader of Figure 7 brings follower ($name) into agreement',
    ({ follower }) => {
      const { net, lead, peer } = figure7(follower);
      net.propose('1', enc('x'));
      net.tick('1');
      expect(lead.role).toBe('leader');
      expect(logOf(peer)).toEqual(logOf(lead));
      expect(peer.log.committed).toBe(lead.log.lastIndex());
      expect(lead.log.committed).toBe(lead.log.lastIndex());
    },
  );
});

// -------------------------------------------------------------------------------------------------

describe('§5.4.1 Election restriction', () => {
  // §5.4.1: "The RequestVote RPC implements this restriction: the RPC includes information about
  // the candidate's log" (and §5.2: requests go "to each of the other servers").
  it.each([
    { log: [1], term: 2 },
    { log: [1, 2], term: 3 },
  ])(
    'a candidate with log $log asks every peer for its vote with its last index and term',
    ({ log, term }) => {
      const et = 10;
      const r = newRaft('1', { ...PAPER, electionTick: et });
      r.step(msgApp({ from: '2', to: '1', term: term - 1, entries: ents(log) }));
      takeMessages(r);
      for (let i = 1; i < 2 * et; i++) r.tick();
      expect(byDestination(takeMessages(r))).toEqual(
        ['2', '3'].map((to) => ({
          type: 'MsgVote',
          from: '1',
          to,
          term,
          index: log.length,
          logTerm: log[log.length - 1],
          transfer: false,
        })),
      );
    },
  );

  // §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the
  // candidate." "If the logs have last entries with different terms, then the log with the later
  // term is more up-to-date. If the logs end with the same term, then whichever log is longer is
  // more up-to-date."
  const voterCases = [
    // etcd's table: same last term,
    { log: [1], logTerm: 1, index: 1, reject: false },
    { log: [1], logTerm: 1, index: 2, reject: false },
    { log: [1, 1], logTerm: 1, index: 1, reject: true },
    // candidate's last term is later,
    { log: [1], logTerm: 2, index: 1, reject: false },
    { log: [1], logTerm: 2, index: 2, reject: false },
    { log: [1, 1], logTerm: 2, index: 1, reject: false },
    // voter's last term is later.
    { log: [2], logTerm: 1, index: 1, reject: true },
    { log: [2], logTerm: 1, index: 2, reject: true },
    { log: [2, 2], logTerm: 1, index: 1, reject: true },
    { log: [1, 1], logTerm: 1, index: 1, reject: true },
    // Every (earlier, same, later last term) × (shorter, same, longer log) against [1, 2].
    ...[1, 2, 3].flatMap((logTerm) =>
      [1, 2, 3].map((index) => ({
        log: [1, 2],
        logTerm,
        index,
        reject: logTerm < 2 || (logTerm === 2 && index < 2),
      })),
    ),
    // An empty log is the least up-to-date.
    { log: [], logTerm: 0, index: 0, reject: false },
    { log: [1], logTerm: 0, index: 0, reject: true },
  ];
  it.each(voterCases)(
    'a voter with log $log answers a candidate at ($index, $logTerm) with reject=$reject',
    ({ log, logTerm, index, reject }) => {
      const r = newRaft('1', { ...PAPER, peers: ['1', '2'], log });
      r.step({ type: 'MsgVote', from: '2', to: '1', term: 3, index, logTerm, transfer: false });
      expect(takeMessages(r)).toEqual([
        { type: 'MsgVoteResp', from: '1', to: '2', term: 3, reject },
      ]);
      expect(r.vote).toBe(reject ? null : '2');
    },
  );
});

// -------------------------------------------------------------------------------------------------

describe('§5.4.2 Committing entries from previous terms', () => {
  // §5.4.2: "Raft never commits log entries from previous terms by counting replicas. Only log
  // entries from the leader's current term are committed by counting replicas".
  it.each([
    { acked: 1, committed: 0 },
    { acked: 2, committed: 0 },
    { acked: 3, committed: 3 },
    { acked: 4, committed: 4 },
  ])(
    'a term-3 leader with log [1, 2, 3, 3] acked up to $acked by its peer commits $committed',
    ({ acked, committed }) => {
      const r = newRaft('1', { ...PAPER, peers: ['1', '2'], log: [1, 2], term: 2 });
      r.becomeCandidate();
      r.becomeLeader();
      r.propose(enc('x'));
      readMessages(r);
      expect(termsOf(r)).toEqual([1, 2, 3, 3]);
      r.step({
        type: 'MsgAppResp',
        from: '2',
        to: '1',
        term: 3,
        index: acked,
        reject: false,
        hintIndex: 0,
        hintTerm: 0,
      });
      expect(r.log.committed).toBe(committed);
    },
  );

  /**
   * Figure 8 (c): S1, leader of term 4, has replicated the term-2 entry at index 2 on a majority
   * (S1, S3, S4; S2 had it already) but its own term-4 entry at index 3 is stored nowhere else:
   * every MsgApp that would put it in a follower's log is lost. S5 (log [1, 3]) is partitioned.
   */
  function figure8c() {
    const ids = idsOf(5);
    const o = { ...PAPER, peers: ids, commit: 1 };
    // maxSizePerMsg 1: one entry per MsgApp, so the term-2 entry can travel without the term-4 one.
    const s1 = newRaft('1', { ...o, log: [1, 2], term: 3, maxSizePerMsg: 1 });
    const s2 = newRaft('2', { ...o, log: [1, 2], term: 2 });
    const s3 = newRaft('3', { ...o, log: [1], term: 3, vote: '5' });
    const s4 = newRaft('4', { ...o, log: [1], term: 3, vote: '5' });
    const s5 = newRaft('5', { ...o, log: [1, 3], term: 3, vote: '5' });
    const net = new Network(s1, s2, s3, s4, s5);
    const loseTerm4Entry = () =>
      net.drop(
        (m) =>
          m.type === 'MsgApp' &&
          m.entries.some((e) => e.term === 4) &&
          net.node(m.to).log.matchTerm(m.index, m.logTerm),
      );
    net.isolate('5');
    loseTerm4Entry();
    net.campaign('1');
    expect([s1.role, s1.term]).toEqual(['leader', 4]);
    // Heartbeats come and go; the term-4 entry still reaches no one.
    net.tick('1', 3);
    return { net, s1, s2, s3, s4, s5, loseTerm4Entry };
  }

  // §5.4.2 / Figure 8 (c)–(d): "a log entry from a previous term [may be] stored on a majority
  // of servers, yet can still be overwritten by a future leader."
  it('Figure 8 (c)–(d): an old-term entry on a majority is not committed, and may be overwritten', () => {
    const { net, s1, s2, s3, s4, s5 } = figure8c();
    for (const s of [s1, s2, s3, s4]) expect(s.log.term(2)).toBe(2);
    expect(s1.tracker.progress.get('3')?.match).toBe(2);
    expect(s1.tracker.progress.get('4')?.match).toBe(2);
    expect(s1.log.committed).toBe(1);

    // (d) S1 crashes; S5 is elected with votes from S2, S3 and S4 and overwrites index 2.
    net.recover();
    net.isolate('1');
    net.campaign('5'); // term 4: S2–S4 already voted for S1
    net.campaign('5'); // term 5
    expect([s5.role, s5.term]).toEqual(['leader', 5]);
    for (const s of [s2, s3, s4]) expect(termsOf(s)).toEqual([1, 3, 5]);
  });

  // §5.4.2 / Figure 8 (e): "once an entry from the current term has been committed in this way,
  // then all prior entries are committed indirectly because of the Log Matching Property."
  it('Figure 8 (e): the old-term entry is committed once a current-term entry is, and stays', () => {
    const { net, s1, s2, s3, s4, s5 } = figure8c();
    expect(s1.log.committed).toBe(1);
    net.recover();
    net.isolate('5');
    net.tick('1'); // the heartbeat round delivers the term-4 entry
    expect(s1.log.committed).toBe(3); // 1 → 3 at once: index 2 was never committed on its own
    net.tick('1');
    for (const s of [s2, s3, s4]) {
      expect(termsOf(s)).toEqual([1, 2, 4]);
      expect(s.log.committed).toBe(3);
    }

    // S1 crashes; S5 can no longer win, so the committed entry survives.
    net.recover();
    net.isolate('1');
    net.campaign('5');
    net.campaign('5');
    expect(s5.role).not.toBe('leader');
    for (const s of [s2, s3, s4]) expect(termsOf(s)).toEqual([1, 2, 4]);
  });
});

// -------------------------------------------------------------------------------------------------

describe('protocol extensions (thesis)', () => {
  describe('PreVote (thesis §9.6)', () => {
    const ids = idsOf(3);
    const PRE_VOTE = { preVote: true, checkQuorum: false } as const;

    // Thesis §9.6: "a candidate only increments its term if it first learns from a majority of
    // the cluster that they would be willing to grant the candidate their votes".
    it('a pre-vote changes no term and no vote, on the pre-candidate or on the voters', () => {
      const n1 = newRaft('1', { ...PRE_VOTE, term: 1, log: [1] });
      const n2 = newRaft('2', { ...PRE_VOTE, term: 1, log: [1] });
      n1.hup('election');
      expect([n1.role, n1.term, n1.vote]).toEqual(['preCandidate', 1, null]);
      // A pre-vote request promises nothing durable: it may go out at once.
      expect(n1.msgsAfterPersist).toEqual([]);
      const reqs = byDestination(takeMessages(n1));
      expect(reqs).toEqual(
        ['2', '3'].map((to) => ({
          type: 'MsgPreVote',
          from: '1',
          to,
          term: 2,
          index: 1,
          logTerm: 1,
          transfer: false,
        })),
      );
      n2.step(reqs[0] as Message);
      expect([n2.role, n2.term, n2.vote]).toEqual(['follower', 1, null]);
      expect(takeMessages(n2)).toEqual([
        { type: 'MsgPreVoteResp', from: '2', to: '1', term: 2, reject: false },
      ]);
    });

    it('a pre-candidate bumps its term only after a majority would vote for it', () => {
      const behind = [newRaft('1', { ...PRE_VOTE, term: 1, log: [1] })];
      const ahead = ['2', '3'].map((id) => newRaft(id, { ...PRE_VOTE, term: 1, log: [1, 1] }));
      const net = new Network(...behind, ...ahead);
      net.campaign('1');
      for (const r of net.nodes.values()) expect([r.term, r.vote]).toEqual([1, null]);
      expect(behind[0]?.role).toBe('follower');
      expect(net.delivered((m) => m.type === 'MsgVote')).toEqual([]);

      net.campaign('2');
      expect([ahead[0]?.role, ahead[0]?.term]).toEqual(['leader', 2]);
    });

    // Thesis §9.6: with Pre-Vote, a server rejoining after a partition "cannot increment its
    // term" and so cannot disrupt the leader — with and without CheckQuorum.
    it.each([false, true])(
      'a partitioned node that rejoins does not disrupt the leader (checkQuorum=%s)',
      (checkQuorum) => {
        const et = 10;
        const rs = ids.map((id) => newRaft(id, { preVote: true, checkQuorum, electionTick: et }));
        const [n1, n2, n3] = rs as [Raft, Raft, Raft];
        const net = new Network(...rs);
        net.campaign('1');
        expect(n1.role).toBe('leader');
        const term = n1.term;

        net.isolate('3');
        net.propose('1', enc('while 3 was away'));
        net.tick('3', 10 * et);
        expect(n3.term).toBe(term);

        net.recover();
        net.campaign('3');
        expect([n1.role, n1.term]).toEqual(['leader', term]);
        expect([n2.role, n2.term, n2.lead]).toEqual(['follower', term, '1']);
        expect(n3.term).toBe(term);

        net.tick('1');
        expect([n3.role, n3.term, n3.lead]).toEqual(['follower', term, '1']);
        expect(logOf(n3)).toEqual(logOf(n1));
      },
    );

    // The problem §9.6 solves: without PreVote the same rejoining node deposes the leader.
    it('without PreVote, the rejoining node forces the leader to step down', () => {
      const rs = ids.map((id) => newRaft(id, PAPER));
      const [n1, , n3] = rs as [Raft, Raft, Raft];
      const net = new Network(...rs);
      net.campaign('1');
      const term = n1.term;
      net.isolate('3');
      net.propose('1', enc('while 3 was away'));
      net.tick('3', 100);
      expect(n3.term).toBeGreaterThan(term);
      net.recover();
      net.campaign('3');
      expect(n1.role).not.toBe('leader');
      expect(n1.term).toBeGreaterThan(term);
    });
  });

  describe('CheckQuorum (thesis §6.2) and leader leases (thesis §4.2.3)', () => {
    const ids = idsOf(3);
    const et = 10;

    // Thesis §6.2: "a leader in Raft steps down if an election timeout elapses without a
    // successful round of heartbeats to a majority of its cluster".
    it('a leader that loses its quorum steps down within two election timeouts', () => {
      const rs = ids.map((id) =>
        newRaft(id, { preVote: false, checkQuorum: true, electionTick: et }),
      );
      const n1 = rs[0] as Raft;
      const net = new Network(...rs);
      net.campaign('1');
      net.tick('1', 5 * et);
      expect(n1.role).toBe('leader');
      const term = n1.term;

      net.isolate('1');
      let ticks = 0;
      while (n1.role === 'leader' && ticks < 10 * et) {
        net.tick('1');
        ticks++;
      }
      // It heard from its quorum just before the partition, so not before one timeout.
      expect(ticks).toBeGreaterThanOrEqual(et);
      expect(ticks).toBeLessThanOrEqual(2 * et);
      expect([n1.role, n1.term, n1.lead]).toEqual(['follower', term, null]);
      expect(() => n1.propose(enc('x'))).toThrow(NotLeaderError);
    });

    it('without CheckQuorum, an isolated leader keeps believing it leads', () => {
      const rs = ids.map((id) => newRaft(id, { ...PAPER, electionTick: et }));
      const n1 = rs[0] as Raft;
      const net = new Network(...rs);
      net.campaign('1');
      net.isolate('1');
      net.tick('1', 10 * et);
      expect(n1.role).toBe('leader');
    });

    // Thesis §4.2.3: "if a server receives a RequestVote request within the minimum election
    // timeout of hearing from a current leader, it does not update its term or grant its vote."
    it('a follower that recently heard from the leader ignores a RequestVote until the lease expires', () => {
      const rs = ids.map((id) =>
        newRaft(id, { preVote: false, checkQuorum: true, electionTick: et }),
      );
      const [n1, n2, n3] = rs as [Raft, Raft, Raft];
      const net = new Network(...rs);
      net.campaign('1');
      const term = n1.term;
      const vote: MsgVote = {
        type: 'MsgVote',
        from: '3',
        to: '2',
        term: term + 1,
        index: n3.log.lastIndex(),
        logTerm: n3.log.lastTerm(),
        transfer: false,
      };
      n2.step(vote);
      expect([n2.term, n2.vote, n2.lead]).toEqual([term, '1', '1']);
      expect(takeMessages(n2)).toEqual([]);
      // The leader itself is within its lease too.
      n1.step({ ...vote, to: '1' });
      expect([n1.role, n1.term]).toEqual(['leader', term]);
      expect(takeMessages(n1)).toEqual([]);

      // An election timeout without hearing from the leader ends the lease.
      for (let i = 0; i < et; i++) n2.tick();
      expect(n2.role).toBe('follower'); // guard: n2's own (randomized, ≥ et) timeout did not fire
      takeMessages(n2);
      n2.step(vote);
      expect([n2.term, n2.vote]).toEqual([term + 1, '3']);
      expect(takeMessages(n2)).toEqual([
        { type: 'MsgVoteResp', from: '2', to: '3', term: term + 1, reject: false },
      ]);
    });

    // Thesis §3.10: a leadership transfer's vote request must bypass the lease (§4.2.3).
    it('a RequestVote for a leadership transfer is not subject to the lease', () => {
      const rs = ids.map((id) =>
        newRaft(id, { preVote: false, checkQuorum: true, electionTick: et }),
      );
      const [n1, n2, n3] = rs as [Raft, Raft, Raft];
      const net = new Network(...rs);
      net.campaign('1');
      const term = n1.term;
      n2.step({
        type: 'MsgVote',
        from: '3',
        to: '2',
        term: term + 1,
        index: n3.log.lastIndex(),
        logTerm: n3.log.lastTerm(),
        transfer: true,
      });
      expect([n2.term, n2.vote]).toEqual([term + 1, '3']);
    });
  });

  describe('fast log backtracking (paper §5.3 "If desired, the protocol can be optimized…")', () => {
    // §5.3: "when rejecting an AppendEntries request, the follower can include the term of the
    // conflicting entry and the first index it stores for that term. With this information, the
    // leader can decrement nextIndex to bypass all of the conflicting entries in that term; one
    // AppendEntries RPC will be required for each term with conflicting entries, rather than
    // one RPC per entry." raft-core's hint does better: one rejection per Figure 7 log.
    it.each(FIGURE_7)(
      'the leader reconciles Figure 7 ($name) with $rejections rejected append(s)',
      ({ follower, rejections }) => {
        const { net, lead, peer } = figure7(follower);
        expect(logOf(peer)).toEqual(logOf(lead));
        expect(net.delivered((m) => m.type === 'MsgAppResp' && m.reject)).toHaveLength(rejections);
      },
    );

    it('a whole conflicting term is skipped in one round trip', () => {
      // Like Figure 7 (f), but 30 + 30 conflicting entries of terms 2 and 3 against 20 + 20 of
      // terms 4 and 5: per-entry backtracking would need 40 round trips.
      const fill = (n: number, t: Term): Term[] => Array<Term>(n).fill(t);
      const leaderLog = [1, 1, 1, ...fill(20, 4), ...fill(20, 5)];
      const { net, lead, peer } = figure7([1, 1, 1, ...fill(30, 2), ...fill(30, 3)], leaderLog);
      expect(logOf(peer)).toEqual(logOf(lead));
      const appends = net.delivered((m) => m.type === 'MsgApp' && m.to === '2');
      const answers = net.delivered((m) => m.type === 'MsgAppResp' && m.from === '2');
      expect(appends).toHaveLength(2);
      expect(answers.map((m) => m.type === 'MsgAppResp' && m.reject)).toEqual([true, false]);
    });
  });

  describe('flow control (thesis §10.2.2 pipelining)', () => {
    it('a leader keeps at most maxInflightMsgs appends un-acked to a follower in replicate state', () => {
      const r = newRaft('1', { ...PAPER, maxInflightMsgs: 3 });
      r.becomeCandidate();
      r.becomeLeader();
      commitNoop(r);
      expect(r.tracker.progress.get('2')?.state).toBe('replicate');
      const sent: MsgApp[] = [];
      for (let i = 0; i < 10; i++) {
        r.propose(enc(`e${i}`));
        for (const m of readMessages(r)) if (m.type === 'MsgApp' && m.to === '2') sent.push(m);
      }
      expect(sent.map((m) => m.entries.length)).toEqual([1, 1, 1]);
      expect(r.tracker.progress.get('2')?.isPaused()).toBe(true);

      // One ack frees one slot: the rest goes out in one MsgApp.
      r.step(acceptAndReply(sent[0] as MsgApp));
      const more = takeMessages(r).filter((m) => m.type === 'MsgApp' && m.to === '2');
      expect(more).toHaveLength(1);
      expect((more[0] as MsgApp).entries).toHaveLength(7);
      expect(r.tracker.progress.get('2')?.inflights.count).toBe(3);
    });

    it('a leader probing a follower sends one append at a time', () => {
      const r = newRaft('1', PAPER);
      r.becomeCandidate();
      r.becomeLeader();
      const toTwo = (ms: Message[]) => ms.filter((m) => m.type === 'MsgApp' && m.to === '2');
      const probe = toTwo(readMessages(r));
      expect(probe).toHaveLength(1);
      expect(r.tracker.progress.get('2')?.state).toBe('probe');
      for (let i = 0; i < 5; i++) {
        r.propose(enc(`e${i}`));
        expect(toTwo(readMessages(r))).toEqual([]);
      }
      // A heartbeat response shows the follower is alive: one more probe, with everything.
      r.step({ type: 'MsgHeartbeatResp', from: '2', to: '1', term: 1, context: 0 });
      const again = toTwo(takeMessages(r)) as MsgApp[];
      expect(again).toHaveLength(1);
      expect(again[0]?.entries).toHaveLength(6);
      r.propose(enc('e5'));
      expect(toTwo(readMessages(r))).toEqual([]);
    });

    it('a rejection sends the leader back to probing, one append at a time', () => {
      const r = newRaft('1', { ...PAPER, maxInflightMsgs: 3 });
      r.becomeCandidate();
      r.becomeLeader();
      commitNoop(r);
      const sent: MsgApp[] = [];
      for (let i = 0; i < 2; i++) {
        r.propose(enc(`e${i}`));
        for (const m of readMessages(r)) if (m.type === 'MsgApp' && m.to === '2') sent.push(m);
      }
      expect(sent).toHaveLength(2);
      const first = sent[0] as MsgApp;
      // The follower lost the first append (e.g. it restarted) and rejects the second.
      r.step({
        type: 'MsgAppResp',
        from: '2',
        to: '1',
        term: 1,
        index: (sent[1] as MsgApp).index,
        reject: true,
        hintIndex: first.index,
        hintTerm: first.logTerm,
      });
      expect(r.tracker.progress.get('2')?.state).toBe('probe');
      const retry = takeMessages(r).filter((m) => m.type === 'MsgApp' && m.to === '2');
      expect(retry).toMatchObject([{ index: first.index, logTerm: first.logTerm }]);
      r.propose(enc('e2'));
      expect(readMessages(r).filter((m) => m.type === 'MsgApp' && m.to === '2')).toEqual([]);
    });
  });

  describe('Ready and persistence (thesis §10.2.1)', () => {
    const buckets = (nodes: Map<NodeId, RawNode>) => {
      const now: Message[] = [];
      const afterPersist: Message[] = [];
      const stabilize = () => {
        for (let busy = true; busy; ) {
          busy = false;
          for (const rn of nodes.values()) {
            if (!rn.hasReady()) continue;
            busy = true;
            const rd = rn.ready();
            now.push(...rd.messages);
            afterPersist.push(...rd.messagesAfterPersist);
            rn.advance(rd);
            for (const m of [...rd.messages, ...rd.messagesAfterPersist]) nodes.get(m.to)?.step(m);
          }
        }
      };
      return { now, afterPersist, stabilize };
    };

    // Figure 2: persistent state is "updated on stable storage before responding to RPCs";
    // thesis §10.2.1: the leader may send AppendEntries before its own write completes.
    it('Ready puts votes and acknowledgements after persistence, and leader appends before', () => {
      const nodes = new Map(
        idsOf(3).map((id) => [
          id,
          new RawNode(...raftArgs(id, { preVote: true, checkQuorum: true })),
        ]),
      );
      const { now, afterPersist, stabilize } = buckets(nodes);
      nodes.get('1')?.campaign();
      stabilize();
      expect(nodes.get('1')?.raft.role).toBe('leader');
      for (let i = 0; i < 3; i++) {
        nodes.get('1')?.propose(enc(`e${i}`));
        stabilize();
      }
      nodes.get('1')?.tick();
      stabilize();

      const types = (ms: Message[]) => new Set(ms.map((m) => m.type));
      for (const t of ['MsgVote', 'MsgVoteResp', 'MsgAppResp'] as const) {
        expect(types(afterPersist)).toContain(t);
        expect(types(now)).not.toContain(t);
      }
      for (const t of ['MsgApp', 'MsgHeartbeat', 'MsgPreVote'] as const) {
        expect(types(now)).toContain(t);
        expect(types(afterPersist)).not.toContain(t);
      }
    });

    it("the leader's MsgApp leaves in the same Ready as the entries it must persist", () => {
      const nodes = new Map(idsOf(3).map((id) => [id, new RawNode(...raftArgs(id, PAPER))]));
      const { stabilize } = buckets(nodes);
      const leader = nodes.get('1') as RawNode;
      leader.campaign();
      stabilize();
      const { index } = leader.propose(enc('x'));
      const rd = leader.ready();
      expect(rd.entries.map((e) => e.index)).toEqual([index]);
      expect(rd.messages.filter((m) => m.type === 'MsgApp')).toMatchObject([
        { to: '2', entries: [{ index }] },
        { to: '3', entries: [{ index }] },
      ]);
      leader.advance(rd);
    });

    // Thesis §10.2.1: "the leader [...] simply counts itself in the majority only once it has
    // written the entry to its own disk".
    it('a leader counts its own entry toward commit only after advance() reports it durable', () => {
      const nodes = new Map(idsOf(3).map((id) => [id, new RawNode(...raftArgs(id, PAPER))]));
      const { stabilize } = buckets(nodes);
      const [leader, f2] = [nodes.get('1') as RawNode, nodes.get('2') as RawNode];
      leader.campaign();
      stabilize();
      const before = leader.raft.log.committed;
      const { index } = leader.propose(enc('x'));
      const rd = leader.ready();
      for (const m of rd.messages) if (m.to === '2') f2.step(m);
      const rd2 = f2.ready();
      f2.advance(rd2);
      for (const m of rd2.messagesAfterPersist) leader.step(m);
      // Only follower 2 has the entry durably: one of three.
      expect(leader.raft.tracker.progress.get('2')?.match).toBe(index);
      expect(leader.raft.log.committed).toBe(before);
      leader.advance(rd);
      expect(leader.raft.log.committed).toBe(index);
      expect(leader.ready().committedEntries.map((e) => e.index)).toEqual([index]);
    });

    it('a single-node leader commits only after advance()', () => {
      const rn = new RawNode(...raftArgs('1', { ...PAPER, peers: ['1'] }));
      rn.campaign();
      expect(rn.raft.role).toBe('leader');
      const rd = rn.ready();
      expect(rd.entries).toHaveLength(1);
      expect(rn.raft.log.committed).toBe(0);
      rn.advance(rd);
      expect(rn.raft.log.committed).toBe(1);
    });
  });
});
