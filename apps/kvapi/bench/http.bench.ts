/**
 * HTTP benchmark of a 3-process kvapi cluster (SQLite synchronous=FULL, default 100 ms ticks)
 * driven by wrk: sets/s with p50/p99 at 1, 16 and 64 connections on the leader and through a
 * follower, and linearizable gets/s at 64 connections. Not a test; prints a markdown table.
 *
 *   pnpm --filter kvapi bench                       # BENCH_SECONDS=10 per row by default
 *   BENCH_SECONDS=5 BENCH_ONLY=set pnpm --filter kvapi bench
 *
 * Also measures the disk's raw write+fdatasync rate in the same run, since set throughput at
 * low concurrency is bound by it (docs/toolchain.md).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { http, ProcessCluster } from '../test/support/cluster.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ONLY = process.env.BENCH_ONLY; // 'set' | 'get'

interface Row {
  readonly what: string;
  readonly target: string;
  readonly conns: number;
  readonly rps: number;
  readonly p50: string;
  readonly p99: string;
  readonly errors: number;
}

function fsyncRate(dir: string): number {
  const f = join(dir, 'fsync-probe');
  const fd = openSync(f, 'w');
  const buf = Buffer.alloc(100, 1);
  let n = 0;
  const end = performance.now() + 2000;
  while (performance.now() < end) {
    writeSync(fd, buf);
    fdatasyncSync(fd);
    n++;
  }
  closeSync(fd);
  rmSync(f);
  return n / 2;
}

function wrk(url: string, conns: number, script?: string): Omit<Row, 'what' | 'target'> {
  const args = ['-t1', `-c${conns}`, `-d${SECONDS}s`, '--latency', '--timeout', '10s'];
  if (script !== undefined) args.push('-s', script);
  const out = execFileSync('wrk', [...args, url], { encoding: 'utf8' });
  const lat = (p: string): string => new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '?';
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)/.exec(out);
  const errors =
    non2xx + (sockErr === null ? 0 : sockErr.slice(1).reduce((a, b) => a + Number(b), 0));
  return { conns, rps: Math.round(rps), p50: lat('50'), p99: lat('99'), errors };
}

const c = await ProcessCluster.start({ tickMs: 100, extraArgs: ['--log-level', 'warn'] });
const rows: Row[] = [];
try {
  const leader = await c.waitLeader();
  const follower = c.ids.find((id) => id !== leader) as string;
  const fsyncs = fsyncRate(c.dir);
  console.log(`cluster up: leader ${leader}, follower ${follower}; disk: ${fsyncs} fdatasync/s`);

  const putScript = join(c.dir, 'put.lua');
  writeFileSync(
    putScript,
    [
      'local n = 0',
      'local value = string.rep("v", 100)',
      'request = function()',
      '  n = n + 1',
      '  return wrk.format("PUT", "/kv/bench-" .. (n % 10000), nil, value)',
      'end',
    ].join('\n'),
  );
  for (let i = 0; i < 100; i++)
    await http(`${c.url(leader)}/kv/bench-${i}`, { method: 'PUT', body: 'v' });

  if (ONLY !== 'get') {
    for (const [target, id] of [
      ['leader', leader],
      ['follower', follower],
    ] as const) {
      for (const conns of [1, 16, 64]) {
        const r = wrk(c.url(id), conns, putScript);
        rows.push({ what: 'set (PUT /kv/K, 100 B)', target, ...r });
        console.log(JSON.stringify(rows.at(-1)));
      }
    }
  }
  if (ONLY !== 'set') {
    for (const [target, id] of [
      ['leader', leader],
      ['follower', follower],
    ] as const) {
      const r = wrk(`${c.url(id)}/kv/bench-1`, 64);
      rows.push({ what: 'linearizable get (GET /kv/K)', target, ...r });
      console.log(JSON.stringify(rows.at(-1)));
    }
  }
  console.log(`\n${SECONDS} s per row, wrk -t1; disk ${fsyncs} fdatasync/s in this run\n`);
  console.log('| request | node | conns | req/s | p50 | p99 | errors |');
  console.log('|---|---|--:|--:|--:|--:|--:|');
  for (const r of rows) {
    console.log(
      `| ${r.what} | ${r.target} | ${r.conns} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} |`,
    );
  }
} finally {
  await c.destroy();
}
