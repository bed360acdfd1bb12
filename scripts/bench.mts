/**
 * `pnpm bench`: the pure-core benchmark and the stress paths in one go, printed as ONE table
 * (entries/s and each path's ratio to the pure core, all measured in this run), so that a
 * regression in the driver or an adapter is visible at a glance. A benchmark, not a test:
 * nothing here is timed in CI.
 *
 *   pnpm bench [--quick] [--json FILE] [--repo DIR]
 *
 * `--repo DIR` benchmarks another checkout (installed) of this repository with this script, e.g.
 * the commit before a change, to compare both in one session.
 * `--quick` runs every path with tiny sizes (a smoke run: the numbers mean nothing). Each path
 * runs as its own child process through the public CLIs (`raft-core` bench, `apps/stress`
 * with `--json`), so one path's garbage or open handles cannot skew another's numbers.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    repo: { type: 'string' },
  },
});
const quick = values.quick === true;
const root = values.repo ?? new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'tsraft-bench-'));

interface Row {
  readonly path: string;
  readonly entriesPerSecond: number | null;
  readonly p50?: number;
  readonly p99?: number;
  readonly note?: string;
}

function run(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('pnpm', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The pure core: RawNodes with no I/O, proposals in batches the size of the stress concurrency. */
function pureCore(): Row {
  const entries = quick ? 5_000 : 200_000;
  const r = run([
    '--filter',
    'raft-core',
    'bench',
    '--',
    '--batch',
    '256',
    '--entries',
    `${entries}`,
  ]);
  const m = /batch\s+256:\s+([\d,]+) entries\/s/.exec(r.stdout);
  if (r.status !== 0 || m === null)
    throw new Error(`pure-core bench failed:\n${r.stdout}${r.stderr}`);
  return {
    path: 'pure core (3 RawNodes, batch 256)',
    entriesPerSecond: Number(m[1]?.replaceAll(',', '')),
  };
}

interface StressJson {
  entriesPerSecond: number;
  latencyMs: { p50: number; p99: number };
  identical: boolean;
}

/** One `apps/stress` run; null when the CLI rejects an option (an older stress without it). */
function stress(path: string, args: readonly string[]): Row {
  const out = join(tmp, `stress-${Math.random().toString(36).slice(2)}.json`);
  const r = run(['--filter', 'stress', 'start', '--', ...args, '--json', out]);
  if (r.status === 2)
    return { path, entriesPerSecond: null, note: 'not supported by this stress CLI' };
  if (r.status !== 0) throw new Error(`stress ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  const j = JSON.parse(readFileSync(out, 'utf8')) as StressJson;
  if (!j.identical) throw new Error(`stress ${args.join(' ')}: nodes diverged`);
  return { path, entriesPerSecond: j.entriesPerSecond, p50: j.latencyMs.p50, p99: j.latencyMs.p99 };
}

/** The physical bound of a durable write here: the cost of one small append + fdatasync. */
function fsyncCost(): { p50: number; p99: number } {
  const f = join(tmp, 'fsync-probe');
  const fd = openSync(f, 'w');
  const buf = Buffer.alloc(4096, 1);
  const n = quick ? 20 : 300;
  const t = new Float64Array(n);
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      writeSync(fd, buf);
      fsyncSync(fd);
      t[i] = performance.now() - t0;
    }
  } finally {
    closeSync(fd);
  }
  t.sort();
  return { p50: t[Math.floor(n / 2)] as number, p99: t[Math.floor(n * 0.99)] as number };
}

const big = quick ? 2_000 : 200_000;
const mid = quick ? 1_000 : 50_000;
const c1 = quick ? 100 : 2_000;
const rows: Row[] = [];
try {
  const fs = fsyncCost();
  rows.push(pureCore());
  const core = rows[0]?.entriesPerSecond ?? 1;
  const common = ['--size', '100', '--nodes', '3'];
  rows.push(
    stress('memory storage + memory transport', [
      '--storage',
      'memory',
      '--transport',
      'memory',
      '--entries',
      `${big}`,
      '--concurrency',
      '256',
      ...common,
    ]),
  );
  rows.push(
    stress('SQLite (FULL) + ws, in-process', [
      '--storage',
      'sqlite',
      '--transport',
      'ws',
      '--entries',
      `${mid}`,
      '--concurrency',
      '256',
      ...common,
    ]),
  );
  rows.push(
    stress('SQLite (FULL) + ws, one process per node', [
      '--storage',
      'sqlite',
      '--transport',
      'ws',
      '--entries',
      `${mid}`,
      '--concurrency',
      '256',
      '--processes',
      ...common,
    ]),
  );
  rows.push(
    stress('SQLite + ws, concurrency 1 (latency)', [
      '--storage',
      'sqlite',
      '--transport',
      'ws',
      '--entries',
      `${c1}`,
      '--concurrency',
      '1',
      ...common,
    ]),
  );
  rows.push({
    path: 'fsync of a 4 KiB append (physical bound)',
    entriesPerSecond: null,
    p50: fs.p50,
    p99: fs.p99,
  });

  const fmt = (n: number | undefined, d = 2): string => (n === undefined ? '' : n.toFixed(d));
  const table = [
    ['path', 'entries/s', 'vs core', 'p50 ms', 'p99 ms'],
    ...rows.map((r) => [
      r.path,
      r.entriesPerSecond === null
        ? (r.note ?? 'n/a')
        : Math.round(r.entriesPerSecond).toLocaleString('en-US'),
      r.entriesPerSecond === null ? '' : `${((r.entriesPerSecond / core) * 100).toFixed(1)} %`,
      fmt(r.p50),
      fmt(r.p99),
    ]),
  ];
  const widths = (table[0] as string[]).map((_, i) =>
    Math.max(...table.map((row) => (row[i] as string).length)),
  );
  const line = (row: string[]): string =>
    `| ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  console.log(
    `\ntsraft bench${quick ? ' (--quick: smoke sizes, numbers meaningless)' : ''}: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`,
  );
  console.log(line(table[0] as string[]));
  console.log(
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  );
  for (const row of table.slice(1)) console.log(line(row));
  if (values.json !== undefined) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(values.json, `${JSON.stringify({ rows }, null, 2)}\n`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
