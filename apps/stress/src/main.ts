/**
 * `stress`: the throughput benchmark. N nodes in this process over real SQLite files (fsync)
 * and real WebSockets on 127.0.0.1 by default; prints entries/s and commit latency, verifies
 * every node applied the identical sequence, and optionally writes a JSON report.
 *
 *   pnpm --filter stress start -- --entries 50000 --concurrency 256 [--storage memory]
 *     [--transport memory] [--nodes 3] [--size 100] [--json report.json]
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runStress } from './run.js';

function parse(): ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>> {
  try {
    return parseArgs({ args: process.argv.slice(2).filter((a) => a !== '--'), options: OPTIONS });
  } catch (e) {
    console.error(`stress: ${(e as Error).message}`);
    console.error(
      'usage: stress [--nodes N] [--storage sqlite|memory] [--transport ws|memory] [--entries N] [--size B] [--concurrency N] [--json FILE]',
    );
    process.exit(2);
  }
}

const OPTIONS = {
  nodes: { type: 'string', default: '3' },
  storage: { type: 'string', default: 'sqlite' },
  transport: { type: 'string', default: 'ws' },
  entries: { type: 'string', default: '50000' },
  size: { type: 'string', default: '100' },
  concurrency: { type: 'string', default: '256' },
  json: { type: 'string' },
} as const;
const { values } = parse();

function int(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer ≥ ${min} (got ${v})`);
    process.exit(2);
  }
  return n;
}

const storage = values.storage;
const transport = values.transport;
if (storage !== 'sqlite' && storage !== 'memory') {
  console.error('--storage must be sqlite or memory');
  process.exit(2);
}
if (transport !== 'ws' && transport !== 'memory') {
  console.error('--transport must be ws or memory');
  process.exit(2);
}
const entries = int('entries', values.entries, 1);
const report = await runStress({
  nodes: int('nodes', values.nodes, 1),
  storage,
  transport,
  entries,
  size: int('size', values.size, 4),
  concurrency: int('concurrency', values.concurrency, 1),
  onProgress: (done) => {
    const w = 40;
    const filled = Math.round((done / entries) * w);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${done}/${entries}`);
  },
});
process.stderr.write('\n');
const r = report;
console.log(
  `${r.options.nodes} nodes, ${r.options.storage} storage, ${r.options.transport} transport, ` +
    `${r.options.entries} entries × ${r.options.size} B, concurrency ${r.options.concurrency}`,
);
console.log(
  `throughput: ${Math.round(r.entriesPerSecond).toLocaleString('en-US')} entries/s (${(r.durationMs / 1000).toFixed(2)} s)`,
);
console.log(
  `commit latency: p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, max ${r.latencyMs.max.toFixed(2)} ms`,
);
console.log(`identical sequence on every node: ${r.identical ? 'yes' : 'NO'}`);
if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(r, null, 2)}\n`);
process.exit(r.identical ? 0 : 1);
