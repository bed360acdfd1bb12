/**
 * Child process of crash.test.ts: appends to a SqliteLogStorage as fast as it can, printing each
 * write's intent before `save` and an acknowledgement after it resolved, until it is killed.
 *
 * Usage: crash-child.ts <db path> <seed> <synchronous: full|normal> [writes before self-SIGKILL]
 * It starts working when a line arrives on stdin. CRASH_THREAD=worker runs the database on a
 * worker thread (SqliteWorkerLogStorage); the SIGKILL then ends both threads at once.
 */

import { buildWrite, mulberry32, nextWrite } from './crash-protocol.js';
import { openOn } from './modes.js';

const [path, seedArg, synchronous, selfKillArg] = process.argv.slice(2);
if (
  path === undefined ||
  seedArg === undefined ||
  (synchronous !== 'full' && synchronous !== 'normal')
) {
  throw new Error('usage: crash-child.ts <db path> <seed> <full|normal> [writes]');
}
// Never outlive a parent that failed to kill us.
setTimeout(() => process.exit(3), 60_000).unref();

const rnd = mulberry32(Number(seedArg));
const out = (line: string) => process.stdout.write(`${line}\n`);

// Wait for the parent's go-ahead (it starts us early to hide the module loading time).
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
out('opening');
const storage = await openOn(process.env.CRASH_THREAD === 'worker' ? 'worker' : 'main', {
  path,
  clusterId: 'crash',
  nodeId: 'n1',
  synchronous,
  compactionBatchRows: 1 + Math.floor(rnd() * 100),
  snapshotChunkBytes: 1024 + Math.floor(rnd() * 8192),
  tailCacheEntries: rnd() < 0.5 ? 4 : 4096,
});
out('ready');
let writes = 0;
const selfKill = selfKillArg === undefined ? Number.POSITIVE_INFINITY : Number(selfKillArg);
for (;;) {
  const st = await storage.initialState();
  const desc = await nextWrite(rnd, st, (i) => storage.term(i));
  out(`I ${JSON.stringify(desc)}`);
  const write = buildWrite(desc);
  // Half the snapshots are staged first (into a side file), as RaftNode does with its own.
  if (write.snapshot !== undefined && rnd() < 0.5) await storage.stageSnapshot(write.snapshot);
  await storage.save(write, desc.sync);
  out('A');
  if (++writes >= selfKill) process.kill(process.pid, 'SIGKILL');
  if (desc.s !== undefined && rnd() < 0.3) await storage.compact(desc.s[0]);
}
