/**
 * `pnpm bench`: the pure-core benchmark and the stress paths in one go, printed as ONE table
 * (entries/s and each path's ratio to the pure core, all measured in this run), so that a
 * regression in the driver or an adapter is visible at a glance. A benchmark, not a test:
 * nothing here is timed in CI.
 *
 *   pnpm bench [--quick] [--repeat N] [--against DIR] [--repo DIR] [--json FILE]
 *
 * - `--repeat N` runs every path N times and reports medians (default 1).
 * - `--against DIR` also benchmarks another installed checkout of this repository (say, the
 *   commit before a change), alternating runs of the two path by path, and adds its numbers and
 *   the ratio: a before/after measured in the same session, as the shared machine requires.
 * - `--repo DIR` benchmarks another checkout instead of this one.
 * - `--quick` runs every path with tiny sizes (a smoke run: the numbers mean nothing).
 *
 * Each path runs as its own child process through the public CLIs (`raft-core` bench,
 * `apps/stress` with `--json`), so one path's garbage or open handles cannot skew another's.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    quick: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    against: { type: 'string' },
    repo: { type: 'string' },
    json: { type: 'string' },
  },
});
const quick = values.quick === true;
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1) {
  console.error('--repeat must be a positive integer');
  process.exit(2);
}
const root = values.repo ?? new URL('..', import.meta.url).pathname;
const against = values.against;
const tmp = mkdtempSync(join(tmpdir(), 'tsraft-bench-'));

/** One measurement of one path. `eps` null: the CLI does not support this path. */
interface Sample {
  readonly eps: number | null;
  readonly p50?: number;
  readonly p99?: number;
}

function pnpm(repo: string, args: readonly string[]): { status: number | null; out: string } {
  const r = spawnSync('pnpm', args, { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The pure core: RawNodes with no I/O, proposals in batches the size of the stress concurrency. */
function pureCore(repo: string): Sample {
  const entries = quick ? 5_000 : 200_000;
  const r = pnpm(repo, [
    '--filter',
    'raft-core',
    'bench',
    '--',
    '--batch',
    '256',
    '--entries',
    `${entries}`,
  ]);
  const m = /batch\s+256:\s+([\d,]+) entries\/s/.exec(r.out);
  if (r.status !== 0 || m === null) throw new Error(`pure-core bench failed in ${repo}:\n${r.out}`);
  return { eps: Number(m[1]?.replaceAll(',', '')) };
}

interface StressJson {
  entriesPerSecond: number;
  latencyMs: { p50: number; p99: number };
  identical: boolean;
}

/** One `apps/stress` run; eps null when the CLI rejects an option (exit 2: an older stress). */
function stress(repo: string, args: readonly string[]): Sample {
  const out = join(tmp, `stress-${Math.random().toString(36).slice(2)}.json`);
  const r = pnpm(repo, ['--filter', 'stress', 'start', '--', ...args, '--json', out]);
  if (r.status === 2) return { eps: null };
  if (r.status !== 0) throw new Error(`stress ${args.join(' ')} failed in ${repo}:\n${r.out}`);
  const j = JSON.parse(readFileSync(out, 'utf8')) as StressJson;
  if (!j.identical) throw new Error(`stress ${args.join(' ')}: nodes diverged`);
  return { eps: j.entriesPerSecond, p50: j.latencyMs.p50, p99: j.latencyMs.p99 };
}

/** The physical bound of a durable write here: one small append + fdatasync (ms per call). */
function fsyncCost(): Sample {
  const fd = openSync(join(tmp, 'fsync-probe'), 'w');
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
  return { eps: null, p50: t[Math.floor(n / 2)] as number, p99: t[Math.floor(n * 0.99)] as number };
}

const big = quick ? 2_000 : 400_000;
const mid = quick ? 1_000 : 100_000;
const c1 = quick ? 100 : 2_000;
const common = ['--size', '100', '--nodes', '3'];
const sqliteWs = ['--storage', 'sqlite', '--transport', 'ws'];
const paths: Array<{ name: string; run: (repo: string) => Sample }> = [
  { name: 'pure core (3 RawNodes, batch 256)', run: pureCore },
  {
    name: 'memory storage + memory transport',
    run: (r) =>
      stress(r, [
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
  },
  {
    name: 'SQLite (FULL) + ws, in-process',
    run: (r) => stress(r, [...sqliteWs, '--entries', `${mid}`, '--concurrency', '256', ...common]),
  },
  {
    name: 'SQLite (FULL) + ws, one process per node',
    run: (r) =>
      stress(r, [
        ...sqliteWs,
        '--entries',
        `${mid}`,
        '--concurrency',
        '256',
        '--processes',
        ...common,
      ]),
  },
  {
    name: 'SQLite (FULL, on worker threads) + ws, in-process',
    run: (r) =>
      stress(r, [
        ...sqliteWs,
        '--sqlite-thread',
        'worker',
        '--entries',
        `${mid}`,
        '--concurrency',
        '256',
        ...common,
      ]),
  },
  {
    name: 'SQLite + ws, concurrency 1 (latency)',
    run: (r) => stress(r, [...sqliteWs, '--entries', `${c1}`, '--concurrency', '1', ...common]),
  },
  { name: 'fsync of a 4 KiB append (physical bound)', run: () => fsyncCost() },
];

function median(xs: readonly (number | undefined | null)[]): number | undefined {
  const v = xs.filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
  return v.length === 0 ? undefined : v[Math.floor((v.length - 1) / 2)];
}

interface Row {
  readonly path: string;
  readonly eps?: number;
  readonly p50?: number;
  readonly p99?: number;
  readonly base?: { eps?: number; p50?: number; p99?: number };
}

const rows: Row[] = [];
try {
  for (const p of paths) {
    const mine: Sample[] = [];
    const theirs: Sample[] = [];
    for (let i = 0; i < repeat; i++) {
      // Alternate, so that a burst of load on the shared machine hits both sides alike.
      if (against !== undefined) theirs.push(p.run(against));
      mine.push(p.run(root));
    }
    const summary = (s: Sample[]) => ({
      eps: median(s.map((x) => x.eps)),
      p50: median(s.map((x) => x.p50)),
      p99: median(s.map((x) => x.p99)),
    });
    rows.push({
      path: p.name,
      ...summary(mine),
      ...(against !== undefined && { base: summary(theirs) }),
    });
  }

  const core = rows[0]?.eps ?? 1;
  const baseCore = rows[0]?.base?.eps ?? 1;
  const n = (x: number | undefined) =>
    x === undefined ? '' : Math.round(x).toLocaleString('en-US');
  const ms = (x: number | undefined) => (x === undefined ? '' : x.toFixed(2));
  const pct = (x: number | undefined, of: number) =>
    x === undefined ? '' : `${((x / of) * 100).toFixed(1)} %`;
  const head = ['path', 'entries/s', 'vs core', 'p50 ms', 'p99 ms'];
  if (against !== undefined) head.push('base entries/s', 'base vs core', 'base p50 ms', 'new/base');
  const table = [
    head,
    ...rows.map((r) => {
      const unsupported = r.eps === undefined && r.p50 === undefined;
      const cells = [
        r.path,
        unsupported ? 'not supported by stress CLI' : n(r.eps),
        pct(r.eps, core),
        ms(r.p50),
        ms(r.p99),
      ];
      if (against !== undefined) {
        const b = r.base;
        const ratio =
          r.eps !== undefined && b?.eps !== undefined
            ? `× ${(r.eps / b.eps).toFixed(2)}`
            : r.p50 !== undefined && b?.p50 !== undefined
              ? `p50 × ${(r.p50 / b.p50).toFixed(2)}`
              : '';
        cells.push(n(b?.eps), pct(b?.eps, baseCore), ms(b?.p50), ratio);
      }
      return cells;
    }),
  ];
  const widths = head.map((_, i) => Math.max(...table.map((row) => (row[i] as string).length)));
  const line = (row: string[]): string =>
    `| ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  const cpu = cpus();
  console.log(
    `\ntsraft bench${quick ? ' (--quick: smoke sizes, numbers meaningless)' : ''}: ${cpu.length} × ${cpu[0]?.model ?? '?'}, ` +
      `node ${process.version}, load ${loadavg()[0]?.toFixed(1)}, ${repeat} run(s) per path (medians)` +
      (against !== undefined ? `, base = ${against}` : ''),
  );
  console.log(line(table[0] as string[]));
  console.log(
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  );
  for (const row of table.slice(1)) console.log(line(row));
  if (values.json !== undefined)
    writeFileSync(values.json, `${JSON.stringify({ rows }, null, 2)}\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
