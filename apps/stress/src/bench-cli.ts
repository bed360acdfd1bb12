/**
 * `stress bench` (the default command): the throughput benchmark. N nodes over real SQLite
 * files (fsync) and real WebSockets on 127.0.0.1 by default, in this process or one process
 * per node (`--processes`); a progress bar, then a summary table; verifies every node applied
 * the identical sequence (exit 1 if not) and optionally writes a JSON report. `--sweep` runs
 * the scaling curve instead (sweep.ts).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { runStress, type StressOptions, type StressReport } from './run.js';
import { sweepMain } from './sweep.js';

export const BENCH_USAGE = `usage: stress [bench] [--nodes N] [--storage sqlite|memory] [--transport ws|memory]
                    [--sqlite-thread main|worker] [--checkpoint-pages N]
                    [--entries N | --duration S] [--size B] [--concurrency N]
                    [--processes] [--tick-ms N] [--json FILE]
       stress bench --sweep [--duration S] [--storage …] [--transport …] [--processes]
                    [--repeat N] [--out FILE]`;

const OPTIONS = {
  nodes: { type: 'string', default: '3' },
  storage: { type: 'string', default: 'sqlite' },
  'sqlite-thread': { type: 'string', default: 'main' },
  'checkpoint-pages': { type: 'string' },
  transport: { type: 'string', default: 'ws' },
  entries: { type: 'string' },
  duration: { type: 'string' },
  size: { type: 'string', default: '100' },
  concurrency: { type: 'string', default: '256' },
  processes: { type: 'boolean', default: false },
  'tick-ms': { type: 'string', default: '50' },
  json: { type: 'string' },
  sweep: { type: 'boolean', default: false },
  out: { type: 'string' },
  repeat: { type: 'string', default: '1' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function num(name: string, v: string | undefined, min: number, integer = true): number {
  const n = Number(v);
  if ((integer && !Number.isInteger(n)) || !Number.isFinite(n) || n < min) {
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min} (got ${v})`,
    );
  }
  return n;
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

/** Parses the flags shared by a single run and the sweep. */
export function benchOptions(values: Values): StressOptions {
  const { storage, transport } = values;
  if (storage !== 'sqlite' && storage !== 'memory')
    throw new UsageError('--storage must be sqlite or memory');
  if (transport !== 'ws' && transport !== 'memory')
    throw new UsageError('--transport must be ws or memory');
  const sqliteThread = values['sqlite-thread'];
  if (sqliteThread !== 'main' && sqliteThread !== 'worker')
    throw new UsageError('--sqlite-thread must be main or worker');
  if (values.processes === true && transport !== 'ws') {
    throw new UsageError('--processes needs --transport ws (nodes in different processes)');
  }
  const durationS =
    values.duration === undefined ? 0 : num('duration', values.duration, 0.1, false);
  const entries =
    values.entries !== undefined ? num('entries', values.entries, 1) : durationS > 0 ? 0 : 50_000;
  return {
    nodes: num('nodes', values.nodes, 1),
    storage,
    sqliteThread,
    ...(values['checkpoint-pages'] !== undefined && {
      checkpointPages: num('checkpoint-pages', values['checkpoint-pages'], 1),
    }),
    transport,
    entries,
    durationS,
    size: num('size', values.size, 4),
    concurrency: num('concurrency', values.concurrency, 1),
    processes: values.processes === true,
    tickMs: num('tick-ms', values['tick-ms'], 1),
  };
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

export function summary(r: StressReport): string {
  const o = r.options;
  const l = r.latencyMs;
  const head =
    `${o.nodes} nodes${o.processes === true ? ' (one process each)' : ' (one process)'}, ` +
    `${o.storage} storage${o.storage === 'sqlite' && o.sqliteThread === 'worker' ? ' (worker thread)' : ''}, ${o.transport} transport, ${fmt(r.entries)} entries × ${o.size} B, ` +
    `concurrency ${o.concurrency}, ${(r.durationMs / 1000).toFixed(2)} s`;
  const cluster = table([
    ['committed', 'entries/s', 'bytes/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    [
      fmt(r.entries),
      fmt(r.entriesPerSecond),
      `${bytes(r.bytesPerSecond)}/s`,
      l.p50.toFixed(2),
      l.p90.toFixed(2),
      l.p99.toFixed(2),
      l.max.toFixed(2),
    ],
  ]);
  const shared = r.nodes.some((n) => n.shared);
  const nodes = table([
    ['node', 'applied', 'applied/s', 'hash', shared ? 'CPU* s' : 'CPU s', 'CPU %', 'peak RSS'],
    ...r.nodes.map((n) => [
      n.id,
      fmt(n.appliedEntries),
      fmt(n.appliedPerSecond),
      n.hash.toString(16).padStart(8, '0'),
      (n.cpuMs / 1000).toFixed(2),
      fmt(n.cpuPercent),
      `${n.peakRssMB.toFixed(0)} MB`,
    ]),
  ]);
  return [
    head,
    '',
    cluster,
    '',
    nodes,
    ...(shared
      ? ["* in-process mode: CPU and RSS are the one process's, shared by every node"]
      : []),
    '',
    `identical sequence on every node: ${r.identical ? 'yes' : 'NO'}`,
    ...(r.attempts > 1 ? [`(run ${r.attempts}: leadership moved during the earlier ones)`] : []),
  ].join('\n');
}

/** A cli-progress bar on stderr (drawn only on a terminal). */
export function progressBar(o: StressOptions): {
  update: (done: number) => void;
  stop: () => void;
} {
  const byTime = o.entries === 0;
  const bar = new cliProgress.SingleBar(
    {
      format: byTime
        ? 'bench [{bar}] {percentage}% | {done} entries | {rate} entries/s | {elapsed}s of {seconds}s'
        : 'bench [{bar}] {percentage}% | {value}/{total} entries | {rate} entries/s | eta {eta}s',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = performance.now();
  // By time, the bar counts tenths of a second.
  const total = byTime ? Math.ceil((o.durationS ?? 0) * 10) : o.entries;
  bar.start(total, 0, { done: 0, rate: 0, elapsed: 0, seconds: o.durationS ?? 0 });
  return {
    update: (done) => {
      const s = (performance.now() - t0) / 1000;
      const payload = {
        done: fmt(done),
        rate: fmt(done / Math.max(s, 0.001)),
        elapsed: s.toFixed(1),
        seconds: o.durationS ?? 0,
      };
      bar.update(byTime ? Math.min(total, Math.floor(s * 10)) : done, payload);
    },
    stop: () => bar.stop(),
  };
}

export async function benchMain(argv: readonly string[]): Promise<number> {
  let values: Values;
  let opts: StressOptions;
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS }));
    if (values.help === true) {
      console.log(BENCH_USAGE);
      return 0;
    }
    opts = benchOptions(values);
  } catch (e) {
    console.error(`stress: ${(e as Error).message}`);
    console.error(BENCH_USAGE);
    return 2;
  }
  if (values.sweep === true) {
    let repeat: number;
    try {
      repeat = num('repeat', values.repeat, 1);
    } catch (e) {
      console.error(`stress: ${(e as Error).message}`);
      return 2;
    }
    return sweepMain(opts, values.out, repeat);
  }
  const bar = progressBar(opts);
  let r: StressReport;
  try {
    r = await runStress({ ...opts, onProgress: bar.update });
  } finally {
    bar.stop();
  }
  console.log(summary(r));
  if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(r, null, 2)}\n`);
  return r.identical ? 0 : 1;
}
