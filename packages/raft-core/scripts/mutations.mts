/**
 * Mutation check of the randomized simulation: re-introduces a known bug (in place), runs
 * simulation seeds until one fails, then restores the file. Prints how many seeds it took.
 *
 *   pnpm --filter raft-core mutations                 # every mutation, up to 5000 seeds each
 *   pnpm --filter raft-core mutations lease-transfer  # one
 *   MAX_SEEDS=1000 pnpm --filter raft-core mutations
 *
 * Seeds run in two worker processes (odd and even seeds); the first failure stops both.
 * Never run it while editing src/: it rewrites source files for the duration of each mutation.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Mutation {
  readonly name: string;
  readonly what: string;
  readonly file: string;
  readonly from: string;
  readonly to: string;
  /** Further replacements in the same file, all part of the same reverted fix. */
  readonly also?: readonly { readonly from: string; readonly to: string }[];
}

const MUTATIONS: Mutation[] = [
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
    from: 'if (old !== undefined) {',
    to: 'if (old !== undefined && old === null) {',
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
    from: '    this.log.append(stamped);\n    this.pendingBcast = true;',
    to: '    this.log.append(stamped);\n    this.pendingBcast = true;\n    if (this.role === "leader") this.tracker.progress.get(this.id)?.maybeUpdate(li);',
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

const ROOT = join(import.meta.dirname, '..');
const MAX = Number(process.env.MAX_SEEDS ?? 5000);
const BASE = Number(process.env.SIM_BASE_SEED ?? 1);

function runWorkers(): Promise<{ seed: number; line: string } | null> {
  return new Promise((resolve) => {
    const procs = [0, 1].map((k) =>
      spawn(
        process.execPath,
        [
          '--conditions=@tsraft/source',
          '--import',
          'tsx',
          'scripts/run-seeds.mts',
          String(BASE + k),
          String(BASE + MAX - 1),
          '--stop',
          '--step',
          '2',
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] },
      ),
    );
    let found: { seed: number; line: string } | null = null;
    let left = procs.length;
    for (const p of procs) {
      let buf = '';
      p.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const m = /^seed (\d+) FAIL/.exec(line);
          if (m && (found === null || Number(m[1]) < found.seed)) {
            found = { seed: Number(m[1]), line };
            for (const q of procs) if (q !== p) q.kill();
          }
        }
      });
      p.on('exit', () => {
        if (--left === 0) resolve(found);
      });
    }
  });
}

const only = process.argv[2];
const list = only === undefined ? MUTATIONS : MUTATIONS.filter((m) => m.name === only);
if (list.length === 0) {
  console.error(`unknown mutation ${only}; one of: ${MUTATIONS.map((m) => m.name).join(', ')}`);
  process.exit(2);
}
for (const m of list) {
  const path = join(ROOT, m.file);
  const orig = readFileSync(path, 'utf8');
  const edits = [{ from: m.from, to: m.to }, ...(m.also ?? [])];
  const missing = edits.find((e) => !orig.includes(e.from));
  if (missing !== undefined) {
    console.log(`${m.name}: SKIPPED (pattern not found in ${m.file}: ${missing.from})`);
    continue;
  }
  const t0 = Date.now();
  writeFileSync(
    path,
    edits.reduce((s, e) => s.replace(e.from, e.to), orig),
  );
  let r: { seed: number; line: string } | null;
  try {
    r = await runWorkers();
  } finally {
    writeFileSync(path, orig);
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  console.log(
    r === null
      ? `${m.name}: NOT FOUND in ${MAX} seeds (${secs} s) — ${m.what}`
      : `${m.name}: caught by seed ${r.seed} (${secs} s) — ${m.what}\n    ${r.line}`,
  );
}
