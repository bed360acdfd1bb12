/**
 * `pnpm cluster`: a local 3-node kvapi cluster on 127.0.0.1 as three child processes (data
 * under ./.kvapi-cluster/), with ready-to-paste curl lines. Ctrl-C stops every node gracefully
 * (a second Ctrl-C kills them).
 *
 * Options: --nodes N (default 3), --base-port P (default 2020: HTTP P..P+N-1, raft P+1000..),
 * --dir DIR, --fresh (delete DIR first), plus anything after `--`, passed to every node.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    nodes: { type: 'string', default: '3' },
    'base-port': { type: 'string', default: '2020' },
    dir: { type: 'string', default: '.kvapi-cluster' },
    fresh: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    'Usage: pnpm cluster [--nodes 3] [--base-port 2020] [--dir .kvapi-cluster] [--fresh] [-- kvapi flags]\n',
  );
  process.exit(0);
}
const n = Number(values.nodes);
const base = Number(values['base-port']);
if (!Number.isInteger(n) || n < 1 || n > 9 || !Number.isInteger(base) || base < 1 || base > 64000) {
  process.stderr.write('cluster: --nodes must be 1-9 and --base-port 1-64000\n');
  process.exit(2);
}
const dir = resolve(values.dir);
if (values.fresh) rmSync(dir, { recursive: true, force: true });

const ids = Array.from({ length: n }, (_, i) => String(i));
const cluster = ids.map((id, i) => `${id},127.0.0.1:${base + i}`).join(';');
// From source (tsx) when run as src/cluster.ts, or the built dist/main.js next to dist/cluster.js.
const fromSource = import.meta.url.endsWith('.ts');
const main = join(here, fromSource ? 'main.ts' : 'main.js');
const nodeArgs = fromSource ? ['--conditions=@tsraft/source', '--import', 'tsx', main] : [main];

const secret = randomBytes(24).toString('base64url');
const procs = new Map<string, ChildProcess>();
for (const [i, id] of ids.entries()) {
  const args = [
    ...nodeArgs,
    '--node',
    id,
    '--http',
    `127.0.0.1:${base + i}`,
    '--cluster',
    cluster,
    '--data',
    join(dir, `node-${id}`),
    '--log-level',
    'warn',
    ...positionals,
  ];
  // A fresh shared secret per launch (through the environment, not argv), so peer links are
  // authenticated unless the caller set KVAPI_SECRET itself.
  const env = { ...process.env, KVAPI_SECRET: process.env.KVAPI_SECRET ?? secret };
  // Own process group: a terminal's Ctrl-C reaches only this launcher, which then stops each
  // node exactly once (a node treats a second signal as "exit now").
  const p = spawn(process.execPath, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
    detached: true,
  });
  procs.set(id, p);
  p.on('exit', (code, sig) => {
    procs.delete(id);
    process.stdout.write(`node ${id} exited (${sig ?? code})\n`);
    if (procs.size === 0) process.exit(0);
  });
}

let stopping = 0;
const stop = (): void => {
  stopping++;
  for (const p of procs.values()) p.kill(stopping > 1 ? 'SIGKILL' : 'SIGTERM');
};
process.on('SIGINT', stop);
process.on('exit', () => {
  for (const p of procs.values()) p.kill('SIGKILL');
});
process.on('SIGTERM', stop);

async function waitLeader(): Promise<string | null> {
  const end = Date.now() + 60_000;
  while (Date.now() < end && stopping === 0) {
    for (const [i] of ids.entries()) {
      try {
        const r = await fetch(`http://127.0.0.1:${base + i}/status`, {
          signal: AbortSignal.timeout(1000),
        });
        const s = (await r.json()) as { leader: string | null };
        if (s.leader !== null) return s.leader;
      } catch {
        // not up yet
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

const leader = await waitLeader();
const u = (i: number): string => `http://127.0.0.1:${base + i}`;
process.stdout.write(
  [
    '',
    `kvapi cluster: ${n} nodes, data in ${dir}`,
    ...ids.map((id, i) => `  node ${id}: HTTP ${u(i)}  raft 127.0.0.1:${base + i + 1000}`),
    `leader: ${leader ?? 'none yet'}`,
    '',
    `Dashboard: ${u(0)}/ui (any node serves it)`,
    `  its admin actions ask for the cluster secret: ${
      process.env.KVAPI_SECRET === undefined ? secret : 'the KVAPI_SECRET you set'
    }`,
    '',
    'Try:',
    `  curl "${u(0)}/set?key=x&value=1"`,
    ...ids.map((_, i) => `  curl "${u(i)}/get?key=x"`),
    `  curl -X PUT --data-binary 'hello' ${u(n > 1 ? 1 : 0)}/kv/greeting`,
    `  curl ${u(n > 2 ? 2 : 0)}/kv/greeting`,
    `  curl -X POST -d '{"from":"hello","to":"bye"}' ${u(0)}/cas/greeting`,
    `  curl "${u(0)}/kv?prefix=gr&limit=10"`,
    `  curl ${u(0)}/status`,
    `  curl ${u(0)}/metrics`,
    '',
    'Ctrl-C stops every node.',
    '',
  ].join('\n'),
);
