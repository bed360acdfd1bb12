/**
 * Mutation check of the randomized simulation: re-introduces a known bug (in place), runs
 * simulation seeds until one fails, then restores the file. Prints how many seeds it took.
 *
 *   pnpm --filter raft-core mutations                 # every mutation, up to 5000 seeds each
 *   pnpm --filter raft-core mutations lease-transfer  # one
 *   MAX_SEEDS=1000 pnpm --filter raft-core mutations
 *
 * Seeds run in two worker processes (odd and even seeds); the first failure stops both.
 * Never run it while editing src/: it rewrites source files for the duration of each mutation.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MUTATIONS } from './mutation-list.js';

const ROOT = join(import.meta.dirname, '..');
const MAX = Number(process.env.MAX_SEEDS ?? 5000);
const BASE = Number(process.env.SIM_BASE_SEED ?? 1);

function runWorkers(): Promise<{ seed: number; line: string } | null> {
  return new Promise((resolve) => {
    const procs = [0, 1].map((k) =>
      spawn(
        process.execPath,
        [
          '--conditions=@tsraft/source',
          '--import',
          'tsx',
          'scripts/run-seeds.mts',
          String(BASE + k),
          String(BASE + MAX - 1),
          '--stop',
          '--step',
          '2',
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] },
      ),
    );
    let found: { seed: number; line: string } | null = null;
    let left = procs.length;
    for (const p of procs) {
      let buf = '';
      p.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const m = /^seed (\d+) FAIL/.exec(line);
          if (m && (found === null || Number(m[1]) < found.seed)) {
            found = { seed: Number(m[1]), line };
            for (const q of procs) if (q !== p) q.kill();
          }
        }
      });
      p.on('exit', () => {
        if (--left === 0) resolve(found);
      });
    }
  });
}

const only = process.argv[2];
const list = only === undefined ? MUTATIONS : MUTATIONS.filter((m) => m.name === only);
if (list.length === 0) {
  console.error(`unknown mutation ${only}; one of: ${MUTATIONS.map((m) => m.name).join(', ')}`);
  process.exit(2);
}
for (const m of list) {
  const path = join(ROOT, m.file);
  const orig = readFileSync(path, 'utf8');
  const edits = [{ from: m.from, to: m.to }, ...(m.also ?? [])];
  const missing = edits.find((e) => !orig.includes(e.from));
  if (missing !== undefined) {
    // NB: test/mutation-list.test.ts fails first in CI: a refactor must carry its mutations along.
    console.error(`${m.name}: pattern not found in ${m.file}: ${missing.from}`);
    process.exit(1);
  }
  const t0 = Date.now();
  writeFileSync(
    path,
    edits.reduce((s, e) => s.replace(e.from, e.to), orig),
  );
  let r: { seed: number; line: string } | null;
  try {
    r = await runWorkers();
  } finally {
    writeFileSync(path, orig);
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  console.log(
    r === null
      ? `${m.name}: NOT FOUND in ${MAX} seeds (${secs} s) — ${m.what}`
      : `${m.name}: caught by seed ${r.seed} (${secs} s) — ${m.what}\n    ${r.line}`,
  );
}
