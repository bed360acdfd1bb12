/**
 * `stress bench --sweep`: the scaling curve. One short run per point — concurrency 1…1024 at
 * 100-byte entries, then entry sizes 16 B…16 KiB at concurrency 64 — printed as a table and
 * written into BENCHMARKS.md (section "Scaling curves (stress --sweep)", replaced in place)
 * with a hand-drawn SVG chart beside this app, the exact command and the machine.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytes } from './bench-cli.js';
import { runStress, type StressOptions, type StressReport } from './run.js';
import { chart } from './sweep-svg.js';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SECTION = '## Scaling curves (stress --sweep)';
export const CONCURRENCY = [1, 4, 16, 64, 256, 1024];
export const SIZES = [16, 64, 256, 1024, 4096, 16384];
const SIZE_SWEEP_CONCURRENCY = 64;

export interface Point {
  readonly concurrency: number;
  readonly size: number;
  readonly entriesPerSecond: number;
  readonly bytesPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly identical: boolean;
}

function point(r: StressReport): Point {
  return {
    concurrency: r.options.concurrency,
    size: r.options.size,
    entriesPerSecond: r.entriesPerSecond,
    bytesPerSecond: r.bytesPerSecond,
    p50: r.latencyMs.p50,
    p99: r.latencyMs.p99,
    identical: r.identical,
  };
}

/** Entry sizes in binary units, as the sweep picks them (16 B … 16 KiB). */
export function sizeName(n: number): string {
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`;
}

function rows(points: readonly Point[]): string[] {
  return [
    '| concurrency | entry size | entries/s | bytes/s | p50 ms | p99 ms |',
    '|---:|---:|---:|---:|---:|---:|',
    ...points.map(
      (p) =>
        `| ${p.concurrency} | ${sizeName(p.size)} | ${Math.round(p.entriesPerSecond).toLocaleString('en-US')} | ${bytes(p.bytesPerSecond)}/s | ${p.p50.toFixed(2)} | ${p.p99.toFixed(2)} |`,
    ),
  ];
}

/** Replaces (or appends) our section of BENCHMARKS.md, leaving every other section alone. */
export function upsertSection(file: string, body: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf(`${SECTION}\n`);
  let next: string;
  if (start < 0) {
    next = `${text.trimEnd()}\n\n${body.trimEnd()}\n`;
  } else {
    const after = text.indexOf('\n## ', start + SECTION.length);
    const rest = after < 0 ? '' : text.slice(after + 1);
    next = `${text.slice(0, start)}${body.trimEnd()}\n${rest === '' ? '' : `\n${rest}`}`;
  }
  writeFileSync(file, next);
}

function command(o: StressOptions, repeat: number): string {
  const flags = [
    `--duration ${o.durationS}`,
    `--nodes ${o.nodes}`,
    `--storage ${o.storage}`,
    ...(o.sqliteThread === 'worker' ? ['--sqlite-thread worker'] : []),
    `--transport ${o.transport}`,
    ...(o.processes === true ? ['--processes'] : []),
    ...(repeat > 1 ? [`--repeat ${repeat}`] : []),
  ];
  return `pnpm stress bench --sweep ${flags.join(' ')}`;
}

export async function sweepMain(
  base: StressOptions,
  out: string | undefined,
  repeat = 1,
): Promise<number> {
  const o: StressOptions = { ...base, entries: 0, durationS: base.durationS || 3 };
  const plan: [number, number][] = [
    ...CONCURRENCY.map((c): [number, number] => [c, 100]),
    ...SIZES.map((s): [number, number] => [SIZE_SWEEP_CONCURRENCY, s]),
  ];
  // Rounds run every point once, so a slow spell of a shared machine spreads over all points
  // instead of sinking one; each point reports its median round (by entries/s).
  const runs: Point[][] = plan.map(() => []);
  for (let round = 1; round <= repeat; round++) {
    for (const [i, [concurrency, size]] of plan.entries()) {
      process.stderr.write(
        `sweep round ${round}/${repeat}, point ${i + 1}/${plan.length}: concurrency ${concurrency}, ${sizeName(size)} entries … `,
      );
      const p = point(await runStress({ ...o, concurrency, size }));
      runs[i]?.push(p);
      process.stderr.write(
        `${Math.round(p.entriesPerSecond).toLocaleString('en-US')} entries/s, p99 ${p.p99.toFixed(1)} ms${p.identical ? '' : ' NOT IDENTICAL'}\n`,
      );
    }
  }
  const points = runs.map((rs) => {
    const sorted = [...rs].sort((a, b) => a.entriesPerSecond - b.entriesPerSecond);
    return sorted[Math.floor((sorted.length - 1) / 2)] as Point;
  });
  const allIdentical = runs.every((rs) => rs.every((p) => p.identical));
  const byConcurrency = points.slice(0, CONCURRENCY.length);
  const bySize = points.slice(CONCURRENCY.length);
  const file = resolve(
    process.env.INIT_CWD ?? process.cwd(),
    out ?? resolve(APP, '../../BENCHMARKS.md'),
  );
  const svgFile = resolve(APP, 'sweep.svg');
  writeFileSync(svgFile, chart(byConcurrency, bySize, SIZE_SWEEP_CONCURRENCY));
  const machine = `${availableParallelism()} CPUs (nproc), ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, ${process.platform}`;
  const body = [
    SECTION,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with:`,
    '',
    '```sh',
    command(o, repeat),
    '```',
    '',
    `Machine: ${machine}. ${o.nodes} nodes, ${o.storage} storage, ${o.transport} transport, ` +
      `${o.processes === true ? 'one process per node' : 'all nodes in one process'}, ` +
      `${o.durationS} s per run, ${repeat} interleaved round${repeat === 1 ? '' : 's'}, each point the median round by entries/s. ` +
      'The machine is shared and noisy: compare shapes and ratios, not absolute numbers.',
    '',
    `![entries/s against concurrency and entry size](${relative(dirname(file), svgFile)})`,
    '',
    '**Concurrency** (proposals in flight), 100-byte entries:',
    '',
    ...rows(byConcurrency),
    '',
    `**Entry size**, concurrency ${SIZE_SWEEP_CONCURRENCY}:`,
    '',
    ...rows(bySize),
    '',
  ].join('\n');
  upsertSection(file, body);
  console.log(rows(points).join('\n'));
  console.log(`\nwrote ${file} (section "${SECTION}") and ${svgFile}`);
  return allIdentical ? 0 : 1;
}
