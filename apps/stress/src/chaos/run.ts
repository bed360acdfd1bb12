/**
 * `runChaos`: N kvapi processes behind per-link fault proxies, concurrent HTTP clients, a
 * seeded nemesis; then heal, final reads of every key, a convergence check, and the
 * linearizability check of the whole history. Everything it starts is stopped and every temp
 * file removed on every exit path (`cleanup` is also what the SIGINT handler calls).
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from 'raft-core/testing';
import { KeyPool, runClient } from './client.js';
import { type Convergence, converge } from './converge.js';
import { finalReads, promoteStragglers } from './heal.js';
import {
  check,
  describeOp,
  type HistoryEvent,
  pairOps,
  shrinkKey,
  toOperations,
} from './history.js';
import { Nemesis, type NemesisKind } from './nemesis.js';
import { Network } from './network.js';
import { type KvapiFrom, Nodes, sleep } from './nodes.js';
import { availabilityPlot, nemesisTimeline, opCounts, writeOperations } from './report.js';

export interface ChaosOptions {
  readonly nodes: number;
  readonly clients: number;
  readonly timeS: number;
  readonly seed: number;
  readonly nemesis: readonly NemesisKind[];
  readonly majorityFaults: boolean;
  readonly keys: number;
  readonly opsPerKey: number;
  readonly tickMs: number;
  readonly requestTimeoutMs: number;
  readonly clientTimeoutMs: number;
  readonly snapshotEntries: number;
  readonly kvapi: KvapiFrom;
  /** Client reads: linearizable (the default), or stale local reads, which should fail. */
  readonly reads: 'linearizable' | 'stale';
  /** Where to keep the history (always kept on failure, in `outDir`). */
  readonly history: string | undefined;
  readonly outDir: string;
  readonly print: (line: string) => void;
  /** The command line that repeats this run (its seed included), for the report. */
  readonly command: string;
}

export interface ChaosResult {
  readonly verdict: 'ok' | 'violation' | 'unknown' | 'not-converged' | 'error';
  readonly operations: number;
  readonly violations: number;
  readonly historyFile: string | undefined;
}

let cleanupHook: (() => Promise<void>) | undefined;

/** For the SIGINT handler: stops whatever a running chaos run started. */
export async function interruptChaos(): Promise<void> {
  await cleanupHook?.();
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const print = o.print;
  const rng = new Rng(o.seed);
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const dir = mkdtempSync(join(tmpdir(), 'tsraft-chaos-'));
  let nodes: Nodes;
  try {
    nodes = new Nodes(ids, {
      dir,
      tickMs: o.tickMs,
      requestTimeoutMs: o.requestTimeoutMs,
      snapshotEntries: o.snapshotEntries,
      extraArgs: [],
      kvapi: o.kvapi,
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    print(`chaos: ${(e as Error).message}`);
    return { verdict: 'error', operations: 0, violations: 0, historyFile: undefined };
  }
  let net: Network | undefined;
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await nodes.killAll();
    await net?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  cleanupHook = cleanup;
  const onExit = (): void => nodes.killAllSync();
  process.on('exit', onExit);

  const events: HistoryEvent[] = [];
  const t0 = performance.now();
  const now = (): number => Math.round((performance.now() - t0) * 1000) / 1000;
  const record = (e: HistoryEvent): void => {
    events.push(e);
  };
  const tmpHistory = join(dir, 'history.jsonl');
  const saveHistory = (): string => {
    writeFileSync(tmpHistory, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
    return tmpHistory;
  };
  /** Keeps the history (and, on a failure, every node's log beside it) past the clean-up. */
  const keep = (name: string, logs = true): string => {
    const target = o.history ?? join(o.outDir, name);
    copyFileSync(saveHistory(), target);
    if (logs) {
      for (const id of ids) {
        if (existsSync(nodes.logFile(id))) {
          copyFileSync(nodes.logFile(id), target.replace(/\.jsonl$/, '') + `-${id}.log`);
        }
      }
    }
    return target;
  };

  try {
    await nodes.allocate();
    const netRng = rng.fork();
    net = await Network.start(
      ids,
      (id) => nodes.peer.get(id) as number,
      () => netRng.next(),
    );
    const network = net;
    for (const id of ids) nodes.start(id, network);
    await Promise.all(ids.map((id) => nodes.waitHttp(id)));
    const leaderBy = Date.now() + 30_000;
    while ((await nodes.leader()) === null) {
      if (Date.now() > leaderBy) throw new Error('no leader within 30 s of start');
      await sleep(100);
    }
    print(
      `chaos: ${o.nodes} kvapi nodes (${nodes.builtApp ? 'apps/kvapi/dist' : 'kvapi source via tsx'}), ` +
        `${o.clients} clients, ${o.timeS} s, seed ${o.seed}, nemesis ${o.nemesis.join(',')}` +
        `${o.majorityFaults ? ' (majority faults allowed)' : ''}`,
    );

    let processes = 0;
    const keys = new KeyPool(o.keys, o.opsPerKey);
    const until = Date.now() + o.timeS * 1000;
    const running = (): boolean => Date.now() < until && !cleaned;
    const env = {
      ids: () => ids,
      url: (id: string) => nodes.url(id),
      now,
      record,
      newProcess: () => processes++,
      timeoutMs: o.clientTimeoutMs,
      reads: o.reads,
    };
    const nemesis = new Nemesis({
      nodes,
      net: network,
      rng: rng.fork(),
      kinds: o.nemesis,
      majorityFaults: o.majorityFaults,
      log: (f, value) => {
        record({ type: 'info', process: 'nemesis', f, value, time: now() });
        print(`  ${(now() / 1000).toFixed(1).padStart(6)} s  nemesis ${f} ${value}`);
      },
      running,
    });
    const clientRngs = Array.from({ length: o.clients }, () => rng.fork());
    const ticker = setInterval(() => {
      const oks = events.filter((e) => e.type === 'ok').length;
      print(`  ${(now() / 1000).toFixed(1).padStart(6)} s  ${oks} ok operations so far`);
    }, 10_000);
    const [episodes] = await Promise.all([
      o.nemesis.length > 0 ? nemesis.run() : Promise.resolve(0),
      ...clientRngs.map((r, i) => runClient(i, env, keys, r, running)),
    ]).finally(() => clearInterval(ticker));

    // Heal: every fault off, every node up and a voter again.
    print(`  ${(now() / 1000).toFixed(1).padStart(6)} s  healing (${episodes} nemesis episodes)`);
    record({ type: 'info', process: 'nemesis', f: 'heal', value: 'all', time: now() });
    await nemesis.healAll();
    for (const id of [...nemesis.removed]) await nemesis.readd(id);
    await promoteStragglers(nodes, nemesis, rng);

    await finalReads({ ...env, ids: () => ids }, keys.all, rng);

    const conv: Convergence = await converge(nodes, 60_000);
    const stats = network.stats();

    // Check.
    const paired = pairOps(events);
    const { operations } = toOperations(paired);
    const t1 = performance.now();
    const res = check(operations);
    const checkMs = performance.now() - t1;

    print('');
    print(opCounts(paired));
    print('');
    print('nemesis:');
    print(nemesisTimeline(events));
    print('');
    print('availability (ok operations per second):');
    print(availabilityPlot(events));
    print('');
    print(
      `proxies: ${(stats.relayed / 1e6).toFixed(1)} MB relayed, ${(stats.dropped / 1e3).toFixed(1)} kB dropped, ${stats.resets} connections reset`,
    );
    print(
      `convergence: ${conv.ok ? `every node applied index ${conv.appliedIndex} and holds the same ${conv.keys} keys` : `FAILED (${conv.detail})`}`,
    );
    print(
      `checker: ${res.result} after ${res.steps} steps in ${(checkMs / 1000).toFixed(1)} s over ${operations.length} operations on ${res.partitions.length} keys`,
    );

    if (res.result === 'illegal') {
      const file = keep(`chaos-${o.seed}.jsonl`);
      let smallest: ReturnType<typeof shrinkKey> | undefined;
      for (const v of res.violations) {
        const s = shrinkKey(operations, v.key as string);
        if (smallest === undefined || s.length < smallest.length) smallest = s;
      }
      const min = smallest ?? [];
      const minFile = file.replace(/\.jsonl$/, '') + '-min.jsonl';
      writeOperations(minFile, min);
      print('');
      print(`VIOLATION on key(s) ${res.violations.map((v) => v.key).join(', ')}`);
      print((res.violations[0]?.message ?? '').trimEnd());
      print('');
      print(`smallest failing history (${min.length} operations, key ${min[0]?.input.key}):`);
      for (const op of min) print(`  ${describeOp(op)}`);
      print('');
      print(`history: ${file}`);
      print(`re-check: pnpm stress check ${file}   (smallest: pnpm stress check ${minFile})`);
      print(`reproduce: ${o.command}`);
      print(`verdict: FAIL, ${res.violations.length} violations`);
      return {
        verdict: 'violation',
        operations: operations.length,
        violations: res.violations.length,
        historyFile: file,
      };
    }
    const historyFile = o.history !== undefined ? keep('', false) : undefined;
    if (res.result === 'unknown' || !conv.ok) {
      const file = keep(`chaos-${o.seed}.jsonl`);
      print(`history: ${file}`);
      print(`reproduce: ${o.command}`);
      print(
        `verdict: FAIL, 0 violations but ${res.result === 'unknown' ? `checker undecided (${res.reason})` : 'no convergence'}`,
      );
      return {
        verdict: res.result === 'unknown' ? 'unknown' : 'not-converged',
        operations: operations.length,
        violations: 0,
        historyFile: file,
      };
    }
    if (historyFile !== undefined) print(`history: ${historyFile}`);
    print(
      `verdict: PASS, 0 violations (${operations.length} operations, seed ${o.seed}, ${o.timeS} s)`,
    );
    return { verdict: 'ok', operations: operations.length, violations: 0, historyFile };
  } catch (e) {
    const file = events.length > 0 ? keep(`chaos-${o.seed}.jsonl`) : undefined;
    print(`chaos: ${(e as Error).stack ?? String(e)}`);
    for (const id of ids) {
      const tail = nodes.logTail(id, 1500);
      if (tail !== '') print(`--- last log lines of ${id} ---\n${tail}`);
    }
    if (file !== undefined) print(`history: ${file}`);
    print(`reproduce: ${o.command}`);
    print(`verdict: FAIL, run aborted (seed ${o.seed})`);
    return { verdict: 'error', operations: 0, violations: 0, historyFile: file };
  } finally {
    process.off('exit', onExit);
    await cleanup();
    cleanupHook = undefined;
  }
}
