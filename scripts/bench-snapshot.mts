/**
 * Commit latency while large snapshots are taken and saved: 3 RaftNodes in this process over
 * SQLite files (synchronous: 'full') and WebSockets on 127.0.0.1, each with a state machine
 * holding `--mib` MiB (default 64). Every node snapshots every `--every` entries, so all three
 * take, serialize and save a big snapshot while the clients keep proposing. Prints commit
 * latency percentiles (all commits, and those that overlapped a snapshot) and how late a 5 ms
 * timer fired (event-loop blocking). A benchmark, not a test.
 *
 *   pnpm exec tsx --conditions=@tsraft/source scripts/bench-snapshot.mts [--mib 64]
 *     [--entries 30000] [--every 10000] [--concurrency 16] [--sqlite-thread main|worker]
 *     [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Entry, RaftNode, type StateMachine } from '../packages/raft-core/src/index.js';
import {
  SqliteLogStorage,
  SqliteWorkerLogStorage,
} from '../packages/raft-storage-sqlite/src/index.js';
import { WsTransport } from '../packages/raft-transport-ws/src/index.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    mib: { type: 'string', default: '64' },
    entries: { type: 'string', default: '30000' },
    every: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '16' },
    'sqlite-thread': { type: 'string', default: 'main' },
    json: { type: 'string' },
  },
});
const MIB = Number(values.mib);
const ENTRIES = Number(values.entries);
const EVERY = Number(values.every);
const CONCURRENCY = Number(values.concurrency);
const THREAD = values['sqlite-thread'];
if (THREAD !== 'main' && THREAD !== 'worker') {
  console.error('bench-snapshot: --sqlite-thread must be main or worker');
  process.exit(2);
}

/**
 * A state machine with a big immutable base image plus a running digest. `snapshot()` captures
 * the digest at once (a point-in-time view: the base never changes) and serializes in 1 MiB
 * steps, one per turn of the event loop, as an application with a large state would.
 */
class BigState implements StateMachine<number> {
  readonly base: Uint8Array;
  count = 0;
  hash = 0x811c9dc5;
  snapshots = 0;
  constructor(bytes: number) {
    this.base = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += 4096) this.base[i] = i & 0xff;
  }
  apply(e: Entry): number {
    if (e.type !== 0 || e.data.length === 0) return this.count;
    let h = this.hash;
    for (let i = 0; i < e.data.length; i++)
      h = Math.imul(h ^ (e.data[i] as number), 0x01000193) >>> 0;
    this.hash = h;
    return ++this.count;
  }
  async snapshot(): Promise<Uint8Array> {
    const count = this.count;
    const hash = this.hash;
    this.snapshots++;
    const out = new Uint8Array(this.base.byteLength + 8);
    for (let off = 0; off < this.base.byteLength; off += 1 << 20) {
      await new Promise((r) => setImmediate(r));
      out.set(this.base.subarray(off, Math.min(off + (1 << 20), this.base.byteLength)), off);
    }
    const v = new DataView(out.buffer, this.base.byteLength);
    v.setUint32(0, count);
    v.setUint32(4, hash);
    return out;
  }
  restore(b: Uint8Array): void {
    const v = new DataView(b.buffer, b.byteOffset + b.byteLength - 8);
    this.count = v.getUint32(0);
    this.hash = v.getUint32(4);
  }
}

function pct(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const ids = ['n1', 'n2', 'n3'];
const dir = await mkdtemp(join(tmpdir(), 'tsraft-bench-snapshot-'));
const nodes: RaftNode<number>[] = [];
const machines = ids.map(() => new BigState(MIB * 1024 * 1024));
/** Snapshot windows per node: [start, end) in performance.now() ms (end = Infinity while open). */
const windows: Array<[number, number]> = [];
try {
  const ws = ids.map(
    (id) => new WsTransport({ nodeId: id, clusterId: 'snap', listen: '127.0.0.1:0', secret: 's' }),
  );
  for (const t of ws) await t.listen();
  ws.forEach((t, i) => {
    ws.forEach((o, j) => {
      if (i !== j) t.addPeer(ids[j] as string, `127.0.0.1:${o.address().port}`);
    });
  });
  for (const [i, id] of ids.entries()) {
    const sm = machines[i] as BigState;
    // Record when each snapshot starts (the state machine is asked) and ends (durable).
    const take = sm.snapshot.bind(sm);
    sm.snapshot = () => {
      windows.push([performance.now(), Number.POSITIVE_INFINITY]);
      return take();
    };
    const node = await RaftNode.start({
      id,
      bootstrap: ids,
      storage: await (THREAD === 'worker' ? SqliteWorkerLogStorage : SqliteLogStorage).open({
        path: join(dir, `${id}.db`),
        clusterId: 'snap',
        nodeId: id,
      }),
      transport: ws[i] as WsTransport,
      stateMachine: sm,
      tickMs: 50,
      snapshotEntries: EVERY,
    });
    node.on('snapshot', (s) => {
      if (s.installed) return;
      const w = windows.find((x) => x[1] === Number.POSITIVE_INFINITY);
      if (w !== undefined) w[1] = performance.now();
    });
    nodes.push(node);
  }
  (nodes[0] as RaftNode<number>).campaign();
  let leader: RaftNode<number> | undefined;
  for (let i = 0; i < 400 && leader === undefined; i++) {
    leader = nodes.find((n) => n.status().role === 'leader');
    if (leader === undefined) await new Promise((r) => setTimeout(r, 25));
  }
  if (leader === undefined) throw new Error('no leader elected within 10 s');
  const l = leader;

  const late: number[] = [];
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    late.push(Math.max(0, now - last - 5));
    last = now;
  }, 5);
  const starts = new Float64Array(ENTRIES);
  const lat = new Float64Array(ENTRIES);
  let next = 0;
  const payload = new Uint8Array(100);
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= ENTRIES) return;
      const data = payload.slice();
      new DataView(data.buffer).setUint32(0, i);
      const s = performance.now();
      starts[i] = s;
      await l.propose(data);
      lat[i] = performance.now() - s;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ms = performance.now() - t0;
  // Let the last snapshots finish before measuring what overlapped them.
  for (let i = 0; i < 400 && windows.some((w) => w[1] === Number.POSITIVE_INFINITY); i++)
    await new Promise((r) => setTimeout(r, 25));
  clearInterval(ticker);
  const during: number[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    const s = starts[i] as number;
    const e = s + (lat[i] as number);
    if (windows.some(([a, b]) => s < b && e > a)) during.push(lat[i] as number);
  }
  during.sort((a, b) => a - b);
  const all = Float64Array.from(lat).sort();
  late.sort((a, b) => a - b);
  const snapMs = windows.map(([a, b]) => b - a).sort((a, b) => a - b);
  const report = {
    mib: MIB,
    entries: ENTRIES,
    concurrency: CONCURRENCY,
    entriesPerSecond: Math.round((ENTRIES / ms) * 1000),
    snapshots: windows.length,
    snapshotMs: { p50: pct(snapMs, 50), max: snapMs.at(-1) ?? 0 },
    commitMs: { p50: pct(all, 50), p99: pct(all, 99), max: all[all.length - 1] ?? 0 },
    commitDuringSnapshotMs: {
      count: during.length,
      p50: pct(during, 50),
      p99: pct(during, 99),
      max: during.at(-1) ?? 0,
    },
    timerLatenessMs: { p50: pct(late, 50), p99: pct(late, 99), max: late.at(-1) ?? 0 },
    identical: machines.every((m) => m.hash === (machines[0] as BigState).hash),
  };
  const f = (x: number): string => x.toFixed(2);
  console.log(
    `${report.entriesPerSecond} entries/s; ${report.snapshots} snapshots of ${MIB} MiB (p50 ${f(report.snapshotMs.p50)} ms each); ` +
      `commit p50 ${f(report.commitMs.p50)} p99 ${f(report.commitMs.p99)} max ${f(report.commitMs.max)} ms; ` +
      `during snapshots (${during.length}) p99 ${f(report.commitDuringSnapshotMs.p99)} max ${f(report.commitDuringSnapshotMs.max)} ms; ` +
      `5 ms timer late p99 ${f(report.timerLatenessMs.p99)} max ${f(report.timerLatenessMs.max)} ms`,
  );
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await Promise.all(nodes.map((n) => n.stop({ transferLeadership: false })));
  await rm(dir, { recursive: true, force: true });
}
