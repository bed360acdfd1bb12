/**
 * Micro-benchmark of the pure core: entries/s committed and applied on all nodes of a 3-node
 * cluster of RawNodes with no I/O (messages are handed over in memory, persistence is instant).
 * Run: pnpm bench  (options: --entries N --batch B --size BYTES --nodes N)
 * Not a test: numbers depend on the machine.
 */
import { RawNode } from '../src/raw-node.js';
import { Rng } from '../src/testing/rng.js';
import { EMPTY_CONF_STATE, type Message, type NodeId } from '../src/types.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function run(total: number, batch: number, size: number, n: number): { eps: number; ms: number } {
  const ids: NodeId[] = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const rng = new Rng(1);
  const nodes = new Map<NodeId, RawNode>();
  for (const id of ids) {
    nodes.set(
      id,
      new RawNode(
        { id, random: () => rng.next(), maxInflightMsgs: 256 },
        {
          hardState: { term: 0, vote: null, commit: 0 },
          confState: { ...EMPTY_CONF_STATE, voters: ids },
          snapshotIndex: 0,
          snapshotTerm: 0,
          entries: [],
        },
      ),
    );
  }
  const queue: Message[] = [];
  const applied = new Map<NodeId, number>(ids.map((id) => [id, 0]));
  const pump = (): void => {
    let progress = true;
    while (progress) {
      progress = false;
      for (const [id, rn] of nodes) {
        while (rn.hasReady()) {
          const rd = rn.ready();
          for (const m of rd.messages) queue.push(m);
          for (const m of rd.messagesAfterPersist) queue.push(m);
          applied.set(id, (applied.get(id) ?? 0) + rd.committedEntries.length);
          rn.advance(rd);
          progress = true;
        }
      }
      for (let i = 0; i < queue.length; i++) {
        const m = queue[i] as Message;
        nodes.get(m.to)?.step(m);
        progress = true;
      }
      queue.length = 0;
    }
  };
  const leader = nodes.get('n1') as RawNode;
  leader.campaign();
  pump();
  if (leader.status().role !== 'leader') throw new Error('n1 did not become leader');
  leader.tick(); // followers learn that the leader's no-op committed
  pump();
  const base = new Map(applied);
  const payload = new Uint8Array(size);
  const t0 = performance.now();
  let proposed = 0;
  while (proposed < total) {
    for (let i = 0; i < batch && proposed < total; i++, proposed++) leader.propose(payload);
    pump();
  }
  // Followers learn the last commit index with the next heartbeat.
  const done = () => ids.every((id) => (applied.get(id) ?? 0) - (base.get(id) ?? 0) >= total);
  for (let i = 0; i < 10 && !done(); i++) {
    leader.tick();
    pump();
  }
  const ms = performance.now() - t0;
  for (const id of ids) {
    const got = (applied.get(id) ?? 0) - (base.get(id) ?? 0);
    if (got !== total) throw new Error(`${id} applied ${got} of ${total}`);
  }
  return { eps: (total / ms) * 1000, ms };
}

const total = arg('entries', 200_000);
const size = arg('size', 100);
const n = arg('nodes', 3);
const batches = process.argv.includes('--batch') ? [arg('batch', 100)] : [1, 10, 100, 1000];
run(20_000, 100, size, n); // warm-up
console.log(`raft-core pure-core benchmark: ${n} nodes, ${total} entries of ${size} B, no I/O`);
for (const b of batches) {
  const runs = [0, 1, 2].map(() => run(b === 1 ? Math.min(total, 50_000) : total, b, size, n));
  runs.sort((x, y) => x.eps - y.eps);
  const med = runs[1] as { eps: number; ms: number };
  console.log(
    `  batch ${String(b).padStart(4)}: ${Math.round(med.eps).toLocaleString('en-US')} entries/s (median of 3)`,
  );
}
