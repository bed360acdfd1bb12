import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Entry,
  type LogStorage,
  RaftNode,
  type StateMachine,
  type Transport,
} from 'raft-core';
import { MemoryLogStorage, MemoryNetwork } from 'raft-core/testing';
import { SqliteLogStorage } from 'raft-storage-sqlite';
import { WsTransport } from 'raft-transport-ws';

/** What to run. */
export interface StressOptions {
  readonly nodes: number;
  readonly storage: 'sqlite' | 'memory';
  readonly transport: 'ws' | 'memory';
  readonly entries: number;
  /** Payload bytes per entry. */
  readonly size: number;
  /** Proposals in flight at once (clients). */
  readonly concurrency: number;
  /** Called about once a second with the number of entries committed so far. */
  readonly onProgress?: (done: number) => void;
}

/** What a run measured. */
export interface StressReport {
  readonly options: Omit<StressOptions, 'onProgress'>;
  readonly entriesPerSecond: number;
  readonly durationMs: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly payloadBytes: number;
  /** Every node applied the identical sequence (same count and rolling hash). */
  readonly identical: boolean;
}

/** Counts applied entries and hashes their payloads in order (FNV-1a). */
class Digest implements StateMachine<number> {
  count = 0;
  hash = 0x811c9dc5;
  apply(e: Entry): number {
    if (e.type !== 0 || e.data.length === 0) return this.count;
    let h = this.hash;
    for (let i = 0; i < e.data.length; i++)
      h = Math.imul(h ^ (e.data[i] as number), 0x01000193) >>> 0;
    this.hash = h;
    return ++this.count;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(`${this.count},${this.hash}`);
  }
  restore(b: Uint8Array): void {
    const [c, h] = new TextDecoder().decode(b).split(',');
    this.count = Number(c);
    this.hash = Number(h);
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/**
 * Starts `nodes` RaftNodes in this process over the chosen storage and transport (real SQLite
 * files with fsync, real WebSockets on 127.0.0.1), proposes `entries` entries with
 * `concurrency` proposals in flight, waits until every node applied them, checks every node
 * applied the identical sequence, stops everything and removes its files.
 */
export async function runStress(o: StressOptions): Promise<StressReport> {
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const dir = await mkdtemp(join(tmpdir(), 'tsraft-stress-'));
  const network = new MemoryNetwork();
  const transports = new Map<string, Transport>();
  const nodes: RaftNode<number>[] = [];
  const digests = ids.map(() => new Digest());
  try {
    if (o.transport === 'ws') {
      const secret = 'stress-secret';
      const ws = ids.map(
        (id) => new WsTransport({ nodeId: id, clusterId: 'stress', listen: '127.0.0.1:0', secret }),
      );
      for (const t of ws) await t.listen();
      ws.forEach((t, i) => {
        ws.forEach((o2, j) => {
          if (i !== j) t.addPeer(ids[j] as string, `127.0.0.1:${o2.address().port}`);
        });
        transports.set(ids[i] as string, t);
      });
    } else {
      for (const id of ids) transports.set(id, network.transport(id));
    }
    for (const [i, id] of ids.entries()) {
      const storage: LogStorage =
        o.storage === 'sqlite'
          ? await SqliteLogStorage.open({
              path: join(dir, `${id}.db`),
              clusterId: 'stress',
              nodeId: id,
            })
          : new MemoryLogStorage();
      nodes.push(
        await RaftNode.start({
          id,
          bootstrap: ids,
          storage,
          transport: transports.get(id) as Transport,
          stateMachine: digests[i] as Digest,
          tickMs: 50,
          snapshotEntries: 50_000,
        }),
      );
    }
    (nodes[0] as RaftNode<number>).campaign();
    let leader: RaftNode<number> | undefined;
    for (let i = 0; i < 400 && leader === undefined; i++) {
      leader = nodes.find((n) => n.status().role === 'leader');
      if (leader === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    if (leader === undefined) throw new Error('no leader elected within 10 s');
    const l = leader;

    const latencies = new Float64Array(o.entries);
    const payload = new Uint8Array(o.size);
    let next = 0;
    let done = 0;
    const t0 = performance.now();
    const progress = setInterval(() => o.onProgress?.(done), 1000);
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= o.entries) return;
        const data = payload.slice();
        new DataView(data.buffer).setUint32(0, i);
        const start = performance.now();
        await l.propose(data);
        latencies[i] = performance.now() - start;
        done++;
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    const durationMs = performance.now() - t0;
    clearInterval(progress);
    o.onProgress?.(done);

    // Every node must apply the same sequence.
    for (let i = 0; i < 400 && !digests.every((d) => d.count === o.entries); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const first = digests[0] as Digest;
    const identical = digests.every((d) => d.count === o.entries && d.hash === first.hash);
    latencies.sort();
    const { onProgress: _ignored, ...options } = o;
    return {
      options,
      entriesPerSecond: (o.entries / durationMs) * 1000,
      durationMs,
      latencyMs: {
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        max: latencies[latencies.length - 1] ?? 0,
      },
      payloadBytes: o.entries * o.size,
      identical,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop({ transferLeadership: false })));
    await rm(dir, { recursive: true, force: true });
  }
}
