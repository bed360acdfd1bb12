/**
 * `stress bench`: the throughput benchmark. N nodes in this process over real SQLite files
 * (fsync) and real WebSockets on 127.0.0.1 by default; prints entries/s and commit latency,
 * verifies every node applied the identical sequence, and optionally writes a JSON report.
 *
 *   pnpm --filter stress start -- --entries 50000 --concurrency 256 [--storage memory]
 *     [--transport memory] [--nodes 3] [--size 100] [--json report.json]
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runStress } from './run.js';

const USAGE =
  'usage: stress [bench] [--nodes N] [--storage sqlite|memory] [--transport ws|memory] [--entries N] [--size B] [--concurrency N] [--json FILE]';

const OPTIONS = {
  nodes: { type: 'string', default: '3' },
  storage: { type: 'string', default: 'sqlite' },
  transport: { type: 'string', default: 'ws' },
  entries: { type: 'string', default: '50000' },
  size: { type: 'string', default: '100' },
  concurrency: { type: 'string', default: '256' },
  json: { type: 'string' },
} as const;

class UsageError extends Error {}

function int(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min} (got ${v})`);
  return n;
}

export async function benchMain(argv: readonly string[]): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS }));
    const { storage, transport } = values;
    if (storage !== 'sqlite' && storage !== 'memory')
      throw new UsageError('--storage must be sqlite or memory');
    if (transport !== 'ws' && transport !== 'memory')
      throw new UsageError('--transport must be ws or memory');
  } catch (e) {
    console.error(`stress: ${(e as Error).message}`);
    console.error(USAGE);
    return 2;
  }
  let opts: Parameters<typeof runStress>[0];
  try {
    const entries = int('entries', values.entries, 1);
    opts = {
      nodes: int('nodes', values.nodes, 1),
      storage: values.storage as 'sqlite' | 'memory',
      transport: values.transport as 'ws' | 'memory',
      entries,
      size: int('size', values.size, 4),
      concurrency: int('concurrency', values.concurrency, 1),
      onProgress: (done) => {
        const w = 40;
        const filled = Math.round((done / entries) * w);
        process.stderr.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${done}/${entries}`,
        );
      },
    };
  } catch (e) {
    console.error(`stress: ${(e as Error).message}`);
    return 2;
  }
  const r = await runStress(opts);
  process.stderr.write('\n');
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
  return r.identical ? 0 : 1;
}
