/**
 * Benchmark of SqliteLogStorage (not a test; numbers go into the README by hand).
 *
 *   pnpm --filter raft-storage-sqlite bench            # everything
 *   BENCH_ONLY=append|eventloop|channel|restart|snapshot pnpm --filter raft-storage-sqlite bench
 *   BENCH_DIR=/some/disk  BENCH_ENTRIES=1000000  BENCH_SECONDS=2  BENCH_CHECKPOINT_PAGES=128
 *
 * - append: durable (synchronous=FULL, sync=true) appends of 100-byte entries in batches of 1, 10,
 *   100 and 1000: entries/s, saves/s and save latency percentiles;
 * - eventloop: 1000-entry saves back to back while a 10 ms ticker measures how late it fires —
 *   what a 100 ms heartbeat timer would suffer — with the database on the main thread and on a
 *   worker thread (SqliteWorkerLogStorage), alternating, BENCH_ROUNDS rounds (default 3);
 * - channel: the cost of handing a 1000-entry batch to a worker thread, cloned as entry objects
 *   or packed into one transferred buffer (how SqliteWorkerLogStorage sends it);
 * - restart: a BENCH_ENTRIES-entry log, then open + initialState + entries(first, last + 1), the way
 *   a restarting node reads its log; plus the background compaction of that whole log;
 * - snapshot: saving and reading a 16 MiB and a 64 MiB snapshot.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Entry } from 'raft-core';
import { SqliteLogStorage, SqliteWorkerLogStorage } from '../src/index.js';
import { packEntries } from '../src/worker-protocol.js';

const ONLY = process.env.BENCH_ONLY;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const RESTART_ENTRIES = Number(process.env.BENCH_ENTRIES ?? 1_000_000);
/** The storages' `checkpointPages` (default: theirs). */
const CHECKPOINT_PAGES =
  process.env.BENCH_CHECKPOINT_PAGES === undefined
    ? undefined
    : Number(process.env.BENCH_CHECKPOINT_PAGES);
const root = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'raft-sqlite-bench-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));

const CONF = {
  voters: ['n1'],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};
const payload = new Uint8Array(100).fill(7);
let dbCount = 0;

type Thread = 'main' | 'worker';

async function openFresh(
  thread: Thread = 'main',
): Promise<SqliteLogStorage | SqliteWorkerLogStorage> {
  const options = {
    path: join(root, `bench-${dbCount++}.db`),
    clusterId: 'bench',
    nodeId: 'n1',
    ...(CHECKPOINT_PAGES !== undefined && { checkpointPages: CHECKPOINT_PAGES }),
  };
  return thread === 'worker'
    ? SqliteWorkerLogStorage.open(options)
    : SqliteLogStorage.open(options);
}

function batch(start: number, n: number, term = 1): Entry[] {
  const out: Entry[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { index: start + i, term, type: 0, data: payload };
  return out;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const ms = (x: number) => `${x.toFixed(2)} ms`;
const rate = (x: number) => Math.round(x).toLocaleString('en-US');

async function benchAppend(): Promise<void> {
  console.log('\n## Durable appends (synchronous=FULL, sync=true, 100-byte entries)\n');
  console.log('| batch | entries/s | saves/s | save p50 | save p99 | save max |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const size of [1, 10, 100, 1000]) {
    const s = await openFresh();
    let next = 1;
    for (let i = 0; i < 20; i++, next += size) await s.save({ entries: batch(next, size) }, true); // warm-up
    const lat: number[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 1000) {
      const entries = batch(next, size);
      const t = performance.now();
      await s.save({ entries }, true);
      lat.push(performance.now() - t);
      next += size;
    }
    const secs = (performance.now() - t0) / 1000;
    await s.close();
    lat.sort((a, b) => a - b);
    console.log(
      `| ${size} | ${rate((lat.length * size) / secs)} | ${rate(lat.length / secs)} | ${ms(pct(lat, 50))} | ${ms(pct(lat, 99))} | ${ms(lat.at(-1)!)} |`,
    );
  }
}

interface LoopRun {
  readonly lat: number[];
  readonly late: number[];
  /**
   * Milliseconds the main thread's event loop was busy (performance.eventLoopUtilization: time
   * not waiting for I/O), per save. Unlike the ticker, this barely depends on whether other
   * processes steal the CPU: it is the main thread's own work, SQLite included on that thread.
   */
  busy: number;
}

/** 1000-entry durable saves back to back for `seconds`, with a 10 ms ticker watching the loop. */
async function eventLoopRun(thread: Thread, seconds: number): Promise<LoopRun> {
  const s = await openFresh(thread);
  let next = 1;
  const lat: number[] = [];
  const late: number[] = [];
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    late.push(now - last - 10);
    last = now;
  }, 10);
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const entries = batch(next, 1000);
    const t = performance.now();
    await s.save({ entries }, true);
    lat.push(performance.now() - t);
    next += 1000;
    await new Promise((r) => setImmediate(r));
  }
  clearInterval(ticker);
  const busy = performance.eventLoopUtilization(elu0).active / lat.length;
  await s.close();
  return { lat, late, busy };
}

/**
 * Both threads, alternating (main, worker, then worker, main, …) so that a change in the
 * machine's load hits both alike; ratios are worker ÷ main over the pooled samples.
 */
async function benchEventLoop(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  console.log(
    `\n## Event loop while saving 1000-entry batches back to back (${rounds} alternating rounds of ${SECONDS * 2} s per thread)\n`,
  );
  console.log(
    '| round | thread | saves | save p50 | save p99 | loop busy per save | ticks > 5 ms late | ticker late p50 | ticker late p99 | ticker late max |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const pooled: Record<Thread, LoopRun & { runs: number }> = {
    main: { lat: [], late: [], busy: 0, runs: 0 },
    worker: { lat: [], late: [], busy: 0, runs: 0 },
  };
  const row = (round: string, thread: string, r: LoopRun) => {
    const lat = [...r.lat].sort((a, b) => a - b);
    const late = [...r.late].sort((a, b) => a - b);
    const over = (100 * late.filter((x) => x > 5).length) / late.length;
    console.log(
      `| ${round} | ${thread} | ${lat.length} | ${ms(pct(lat, 50))} | ${ms(pct(lat, 99))} | ${ms(r.busy)} | ${over.toFixed(1)} % | ${ms(pct(late, 50))} | ${ms(pct(late, 99))} | ${ms(late.at(-1)!)} |`,
    );
    return { lat, late, busy: r.busy };
  };
  for (let i = 0; i < rounds; i++) {
    const order: Thread[] = i % 2 === 0 ? ['main', 'worker'] : ['worker', 'main'];
    for (const thread of order) {
      const r = await eventLoopRun(thread, SECONDS * 2);
      pooled[thread].lat.push(...r.lat);
      pooled[thread].late.push(...r.late);
      pooled[thread].busy += r.busy;
      pooled[thread].runs++;
      row(String(i + 1), thread, r);
    }
  }
  const m = row('all', 'main', { ...pooled.main, busy: pooled.main.busy / pooled.main.runs });
  const w = row('all', 'worker', {
    ...pooled.worker,
    busy: pooled.worker.busy / pooled.worker.runs,
  });
  const ratio = (f: (r: LoopRun) => number) => (f(w) / f(m)).toFixed(2);
  console.log(
    `\nworker ÷ main: loop busy per save ×${ratio((r) => r.busy)}, save p50 ×${ratio((r) => pct(r.lat, 50))}, save p99 ×${ratio((r) => pct(r.lat, 99))}, ` +
      `ticker late p99 ×${ratio((r) => pct(r.late, 99))}, max ×${ratio((r) => r.late.at(-1)!)}, ` +
      `saves/s ×${(w.lat.length / m.lat.length).toFixed(2)}`,
  );
}

/**
 * How to hand a batch of entries to the worker: structured clone of the `Entry[]` (one object
 * and one ArrayBuffer per entry) or `packEntries` into one buffer that is transferred. Measures
 * the main thread's synchronous part (packing + postMessage) and the round trip to an echo
 * worker that rebuilds the entries.
 */
async function benchChannel(): Promise<void> {
  console.log('\n## Handing a 1000 × 100-byte batch to a worker thread\n');
  const echo = new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.on('message', (m) => {
       let n = 0;
       if (m.packed) {
         const f = new Float64Array(m.packed, 0, m.count * 4);
         let off = m.count * 32;
         for (let i = 0; i < m.count; i++) { new Uint8Array(m.packed, off, f[i * 4 + 3]); off += f[i * 4 + 3]; n++; }
       } else n = m.entries.length;
       parentPort.postMessage(n);
     });`,
    { eval: true },
  );
  const reply = () => new Promise<number>((r) => echo.once('message', r));
  const entries = batch(1, 1000).map((e) => ({ ...e, data: payload.slice() }));
  const rows: string[] = [];
  for (const how of ['clone', 'pack + transfer', 'clone', 'pack + transfer'] as const) {
    const send: number[] = [];
    const trip: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now();
      const got = reply();
      if (how === 'clone') echo.postMessage({ entries });
      else {
        const packed = packEntries(entries)!;
        echo.postMessage({ packed, count: entries.length }, [packed]);
      }
      const t1 = performance.now();
      if ((await got) !== 1000) throw new Error('echo');
      send.push(t1 - t0);
      trip.push(performance.now() - t0);
    }
    send.sort((a, b) => a - b);
    trip.sort((a, b) => a - b);
    const us = (x: number) => `${(x * 1000).toFixed(0)} µs`;
    rows.push(
      `| ${how} | ${us(pct(send, 50))} | ${us(pct(send, 99))} | ${us(pct(trip, 50))} | ${us(pct(trip, 99))} |`,
    );
  }
  await echo.terminate();
  console.log('| how | main thread p50 | main thread p99 | round trip p50 | round trip p99 |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
}

async function benchRestart(): Promise<void> {
  console.log(`\n## Restart with a ${rate(RESTART_ENTRIES)}-entry log (100-byte entries)\n`);
  const path = join(root, 'restart.db');
  const options = { path, clusterId: 'bench', nodeId: 'n1' };
  let s = await SqliteLogStorage.open(options);
  const tBuild = performance.now();
  for (let i = 1; i <= RESTART_ENTRIES; i += 10_000) {
    await s.save({ entries: batch(i, Math.min(10_000, RESTART_ENTRIES - i + 1)) }, true);
  }
  await s.save({ entries: [], hardState: { term: 1, vote: 'n1', commit: RESTART_ENTRIES } }, true);
  await s.close();
  console.log(
    `build: ${ms(performance.now() - tBuild)} (${rate(RESTART_ENTRIES / ((performance.now() - tBuild) / 1000))} entries/s in 10k batches), file ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log('\n| run | open + initialState | entries(first, last+1) | total |');
  console.log('|---:|---:|---:|---:|');
  const totals: number[] = [];
  for (let run = 1; run <= 3; run++) {
    const t0 = performance.now();
    s = await SqliteLogStorage.open(options);
    const st = await s.initialState();
    const t1 = performance.now();
    const log = await s.entries(st.firstIndex, st.lastIndex + 1);
    const t2 = performance.now();
    if (log.length !== RESTART_ENTRIES) throw new Error(`read ${log.length} entries`);
    await s.close();
    totals.push(t2 - t0);
    console.log(`| ${run} | ${ms(t1 - t0)} | ${ms(t2 - t1)} | ${ms(t2 - t0)} |`);
  }
  const t0 = performance.now();
  s = await SqliteLogStorage.open({ ...options, verify: 'full' });
  console.log(
    `\nopen with verify: 'full' (quick_check + every checksum): ${ms(performance.now() - t0)}`,
  );

  // Compaction of the whole log behind a snapshot, while a 10 ms ticker watches the event loop.
  const late: number[] = [];
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    late.push(now - last - 10);
    last = now;
  }, 10);
  const tc = performance.now();
  await s.save(
    {
      snapshot: { meta: { index: RESTART_ENTRIES, term: 1, confState: CONF }, data: payload },
      entries: [],
    },
    true,
  );
  const tSnap = performance.now() - tc;
  await s.compact(RESTART_ENTRIES);
  clearInterval(ticker);
  late.sort((a, b) => a - b);
  console.log(
    `snapshot save: ${ms(tSnap)}; background deletion of ${rate(RESTART_ENTRIES)} rows: ${ms(performance.now() - tc - tSnap)}, 10 ms ticker lateness p99 ${ms(pct(late, 99))}, max ${ms(late.at(-1)!)}`,
  );
  await s.close();
}

async function benchSnapshot(): Promise<void> {
  console.log('\n## Snapshots\n');
  const s = await openFresh();
  for (const mib of [16, 64]) {
    const data = new Uint8Array(mib * 2 ** 20).fill(3);
    const t0 = performance.now();
    await s.save(
      { snapshot: { meta: { index: mib, term: 1, confState: CONF }, data }, entries: [] },
      true,
    );
    const t1 = performance.now();
    const back = await s.snapshot();
    const t2 = performance.now();
    if (back?.data.byteLength !== data.byteLength) throw new Error('snapshot size');
    console.log(`${mib} MiB: save ${ms(t1 - t0)}, read ${ms(t2 - t1)}`);
  }
  await s.close();
}

console.log(`raft-storage-sqlite bench — Node ${process.version}, dir ${root}`);
if (ONLY === undefined || ONLY === 'append') await benchAppend();
if (ONLY === undefined || ONLY === 'eventloop') await benchEventLoop();
if (ONLY === undefined || ONLY === 'channel') await benchChannel();
if (ONLY === undefined || ONLY === 'restart') await benchRestart();
if (ONLY === undefined || ONLY === 'snapshot') await benchSnapshot();
