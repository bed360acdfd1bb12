/**
 * The mutations of the randomized simulation's check (`pnpm --filter raft-core mutations`): each
 * re-introduces a known bug as a text replacement in one source file. Kept apart from the script
 * so that test/mutation-list.test.ts can check that every pattern still applies.
 */
/** A known bug, re-introduced by replacing `from` with `to` in `file` (see mutations.mts). */
export interface Mutation {
  readonly name: string;
  readonly what: string;
  readonly file: string;
  readonly from: string;
  readonly to: string;
  /** Further replacements in the same file, all part of the same reverted fix. */
  readonly also?: readonly { readonly from: string; readonly to: string }[];
}

export const MUTATIONS: readonly Mutation[] = [
  {
    name: 'snapshot-mid-ready',
    what: 'issue 8 bug 1: older ConfChange entries applied on top of a newer installed snapshot',
    file: 'src/membership.ts',
    from: 'if (index <= raft.confIndex) {',
    to: 'if (index < 0) {',
  },
  {
    name: 'lease-transfer',
    what: 'issue 8 bug 2: lease reads served after an aborted transfer (late MsgTimeoutNow)',
    file: 'src/read-index.ts',
    from: '!raft.timeoutNowSent &&',
    to: '',
  },
  {
    name: 'read-retry',
    what: 'issue 8 bug 3: ReadIndex rounds never retried (periodic heartbeats carry context 0)',
    file: 'src/raft.ts',
    from: 'replication.bcastHeartbeat(this, this.readOnly.lastId());',
    to: 'replication.bcastHeartbeat(this);',
  },
  {
    name: 'read-context-restart',
    what: 'issue 8 bug 4: read contexts restart at 1 in every process',
    file: 'src/driver/reads.ts',
    from: 'this.nonce = this.drawNonce();\n  }',
    to: 'this.nonce = 0;\n  }',
  },
  {
    name: 'pending-overwrite',
    what: 'issue 8 bug 5: an unsettled proposal promise is overwritten at the same index',
    file: 'src/driver/proposals.ts',
    from: '    oldReject(\n      new RaftError(',
    to: '    ((_: Error) => {})(\n      new RaftError(',
  },
  {
    name: 'snapshot-conf-after-await',
    what: 'issue 8 bug 6: a local snapshot records the configuration read after awaiting the state machine',
    file: 'src/node.ts',
    from: 'const snapshot: Snapshot = { meta, data };',
    to: 'const snapshot: Snapshot = { meta: { ...meta, confState: this.raw.status().confState }, data };',
  },
  {
    name: 'removed-leader-promises',
    what: 'issue 8 bug 7: a removed node never settles proposals made after its removal',
    file: 'src/node.ts',
    from: 'this.proposals.expire(this.ticks, this.proposalTimeoutMs);',
    to: '',
    also: [
      { from: 'if (!isMember(cs, this.id) && this.proposals.size > 0) {', to: 'if (false) {' },
    ],
  },
  {
    name: 'election-applied-config',
    what: 'found by the simulation: a candidate wins under its applied configuration only',
    file: 'src/raft.ts',
    from: 'this.tracker.electionVoters = membership.latestLogVoters(this);',
    to: 'this.tracker.electionVoters = null;',
  },
  {
    name: 'old-term-commit',
    what: 'classic: committing by counting replicas of an old-term entry (§5.4.2)',
    file: 'src/raft.ts',
    from: 'mci !== Number.POSITIVE_INFINITY &&\n      this.log.term(mci) === this.term',
    to: 'mci !== Number.POSITIVE_INFINITY',
  },
  {
    name: 'readindex-no-quorum',
    what: 'classic: ReadIndex answered without a quorum round',
    file: 'src/read-index.ts',
    from: 'if (raft.tracker.isSingleton(raft.id) || leaseValid(raft)) {',
    to: 'if (raft.tracker.isSingleton(raft.id) || leaseValid(raft) || true) {',
  },
  {
    name: 'follower-commit-past-match',
    what: 'classic: a follower advances its commit index past the last entry the append matched',
    file: 'src/log.ts',
    from: 'this.commitTo(Math.min(commit, lastNew));',
    to: 'this.commitTo(Math.min(commit, this.lastIndex()));',
  },
  {
    name: 'leader-counts-unstable',
    what: 'classic: the leader counts its own entry toward commit before its write is durable',
    file: 'src/raft.ts',
    from: '    this.log.appendLast({ index, term: this.term, type, data });\n    this.pendingBcast = true;',
    to: '    this.log.appendLast({ index, term: this.term, type, data });\n    this.pendingBcast = true;\n    if (this.role === "leader") this.tracker.progress.get(this.id)?.maybeUpdate(index);',
  },
  {
    name: 'ack-before-persist',
    what: 'classic: votes and append acks sent before the write completes',
    file: 'src/node.ts',
    from: 'if (!this.sendAll(rd.messages)) return;',
    to: 'if (!this.sendAll(rd.messages) || !this.sendAll(rd.messagesAfterPersist)) return;',
  },
  {
    name: 'vote-not-persisted',
    what: 'classic: the vote is not persisted',
    file: 'src/node.ts',
    from: '...(rd.hardState !== null && { hardState: rd.hardState }),',
    to: '...(rd.hardState !== null && { hardState: { ...rd.hardState, vote: null } }),',
  },
];
