/**
 * `runStress`: the benchmark proper. Starts N nodes (in this process, or one process each),
 * runs the load on the leader, waits until every node applied what was committed, and checks
 * every node applied the identical sequence (count and rolling hash). Stops everything and
 * removes its files on every path.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftError } from 'raft-core';
import { type Driver, inProcess, type NodeDigest, processes } from './bench/drivers.js';
import { percentile } from './bench/load.js';

/** What to run. */
export interface StressOptions {
  readonly nodes: number;
  readonly storage: 'sqlite' | 'memory';
  /** SQLite storage only: run each node's database on the main thread (default) or a worker. */
  readonly sqliteThread?: 'main' | 'worker';
  /** SQLite storage only: WAL pages per checkpoint (the storage's `checkpointPages`). */
  readonly checkpointPages?: number;
  readonly transport: 'ws' | 'memory';
  /** Stop after this many entries (0 = until `durationS`). */
  readonly entries: number;
  /** Stop proposing after this many seconds (0 = until `entries`). */
  readonly durationS?: number;
  /** Payload bytes per entry (≥ 4). */
  readonly size: number;
  /** Proposals in flight at once (clients). */
  readonly concurrency: number;
  /** One child process per node instead of all in this process (needs `transport: 'ws'`). */
  readonly processes?: boolean;
  /** Raft tick in ms (default 50). */
  readonly tickMs?: number;
  /** Called a few times a second with the number of entries committed so far. */
  readonly onProgress?: (done: number) => void;
}

/** One node's part of the report. */
export interface NodeReport {
  readonly id: string;
  readonly appliedEntries: number;
  /** Entries applied per second, from the start of the load to this node's last apply. */
  readonly appliedPerSecond: number;
  readonly hash: number;
  /** CPU time (user + system) in ms; in-process mode: the whole process's, shared. */
  readonly cpuMs: number;
  /** CPU time as a share of one core over the load's wall time, in %. */
  readonly cpuPercent: number;
  readonly peakRssMB: number;
  readonly shared: boolean;
}

/**
 * What a run measured. The shape is stable (other tools read it): `entriesPerSecond` and
 * `latencyMs.{p50,p90,p99,max}` in particular.
 */
export interface StressReport {
  readonly options: Omit<StressOptions, 'onProgress'>;
  /** Entries committed. */
  readonly entries: number;
  /** Committed entries per second (at the leader, over the load's wall time). */
  readonly entriesPerSecond: number;
  readonly durationMs: number;
  readonly latencyMs: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
  readonly payloadBytes: number;
  readonly bytesPerSecond: number;
  readonly nodes: readonly NodeReport[];
  /** Every node applied the identical sequence (same count and rolling hash). */
  readonly identical: boolean;
  /** Runs it took: more than 1 when leadership moved mid-run and the run started over. */
  readonly attempts: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A proposal rejected because leadership moved (an election on a loaded machine): the
 * measurement is void, but nothing is wrong. In `--processes` mode it arrives as text.
 */
function isLeaderChange(e: unknown): boolean {
  if (RaftError.isInstance(e) && (e.code === 'ProposalDropped' || e.code === 'NotLeader')) {
    return true;
  }
  return /RaftError: .*(superseded|not the leader)|ProposalDropped|NotLeader/.test(String(e));
}

const ATTEMPTS = 3;

/**
 * Runs the benchmark; if leadership moves mid-run (a proposal is dropped), starts over on a
 * fresh cluster, up to 3 attempts in all, and says so on stderr.
 */
export async function runStress(o: StressOptions): Promise<StressReport> {
  if ((o.entries <= 0 && (o.durationS ?? 0) <= 0) || o.size < 4) {
    throw new Error('runStress: give entries or durationS, and size >= 4');
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return { ...(await runOnce(o)), attempts: attempt };
    } catch (e) {
      if (attempt >= ATTEMPTS || !isLeaderChange(e)) throw e;
      process.stderr.write(
        `\nstress: leadership moved during the run (${String(e).split('\n')[0]}); starting again on a fresh cluster (attempt ${attempt + 1}/${ATTEMPTS})\n`,
      );
    }
  }
}

async function runOnce(o: StressOptions): Promise<Omit<StressReport, 'attempts'>> {
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const dir = await mkdtemp(join(tmpdir(), 'tsraft-stress-'));
  let driver: Driver | undefined;
  try {
    const spec = {
      ids,
      storage: o.storage,
      sqliteThread: o.sqliteThread ?? 'main',
      ...(o.checkpointPages !== undefined && { checkpointPages: o.checkpointPages }),
      transport: o.transport,
      dir,
      tickMs: o.tickMs ?? 50,
    };
    driver = o.processes === true ? await processes(spec) : await inProcess(spec);
    const before = await driver.digests();
    const load = await driver.load(
      {
        entries: o.entries,
        durationMs: (o.durationS ?? 0) * 1000,
        size: o.size,
        concurrency: o.concurrency,
      },
      o.onProgress ?? (() => {}),
    );
    // Every node must apply what was committed; followers may lag the leader a little.
    let after: NodeDigest[] = [];
    for (let i = 0; i < 1200; i++) {
      after = await driver.digests();
      if (after.every((d) => d.count >= load.done)) break;
      await sleep(25);
    }
    const first = after[0];
    const identical =
      first !== undefined && after.every((d) => d.count === load.done && d.hash === first.hash);
    const seconds = load.durationMs / 1000;
    const nodes = after.map((d, i): NodeReport => {
      const b = before[i] as NodeDigest;
      const applied = d.count - b.count;
      const span = Math.max(1, d.lastAppliedAt - load.startedAt) / 1000;
      const cpuMs = d.cpuMs - b.cpuMs;
      return {
        id: d.id,
        appliedEntries: d.count,
        appliedPerSecond: applied / span,
        hash: d.hash,
        cpuMs,
        cpuPercent: (cpuMs / load.durationMs) * 100,
        peakRssMB: d.maxRssKB / 1024,
        shared: d.shared,
      };
    });
    const { onProgress: _ignored, ...options } = o;
    return {
      options,
      entries: load.done,
      entriesPerSecond: load.done / seconds,
      durationMs: load.durationMs,
      latencyMs: {
        p50: percentile(load.latencies, 0.5),
        p90: percentile(load.latencies, 0.9),
        p99: percentile(load.latencies, 0.99),
        max: load.latencies[load.latencies.length - 1] ?? 0,
      },
      payloadBytes: load.done * o.size,
      bytesPerSecond: (load.done * o.size) / seconds,
      nodes,
      identical,
    };
  } finally {
    await driver?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
