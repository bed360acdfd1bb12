/**
 * The two ways `stress bench` runs a cluster: every node in this process (`inProcess`), or one
 * child process per node (`processes`, the realistic deployment: one event loop each, and
 * fsyncs that overlap). Both give a {@link Driver}: run the load on the leader, read every
 * node's digest and resource use, stop.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LogStorage, RaftNode, type Transport } from 'raft-core';
import { MemoryLogStorage, MemoryNetwork } from 'raft-core/testing';
import { WsTransport } from 'raft-transport-ws';
import { Digest } from './digest.js';
import { type LoadResult, type LoadSpec, runLoad } from './load.js';
import type { DigestAnswer, RunnerRequest } from './node-runner.js';
import { openSqlite } from './sqlite.js';

export interface NodeDigest extends DigestAnswer {
  readonly id: string;
  /** CPU and RSS are the whole process's, shared by every node (in-process mode). */
  readonly shared: boolean;
}

export interface Driver {
  load(spec: LoadSpec, onProgress: (done: number) => void): Promise<LoadResult>;
  digests(): Promise<NodeDigest[]>;
  stop(): Promise<void>;
}

export interface ClusterSpec {
  readonly ids: readonly string[];
  readonly storage: 'sqlite' | 'memory';
  /** Where each node's SQLite database runs (`--sqlite-thread`). */
  readonly sqliteThread: 'main' | 'worker';
  /** SQLite's `checkpointPages` option (`--checkpoint-pages`); the storage's default if absent. */
  readonly checkpointPages?: number;
  readonly transport: 'ws' | 'memory';
  readonly dir: string;
  readonly tickMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
    await sleep(25);
  }
}

export async function inProcess(c: ClusterSpec): Promise<Driver> {
  const network = new MemoryNetwork();
  const transports = new Map<string, Transport>();
  const nodes: RaftNode<number>[] = [];
  const digests = c.ids.map(() => new Digest());
  const cpu0 = process.cpuUsage();
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop({ transferLeadership: false })));
  };
  try {
    if (c.transport === 'ws') {
      const secret = randomBytes(12).toString('hex');
      const ws = c.ids.map(
        (id) => new WsTransport({ nodeId: id, clusterId: 'stress', listen: '127.0.0.1:0', secret }),
      );
      for (const t of ws) await t.listen();
      ws.forEach((t, i) => {
        ws.forEach((o, j) => {
          if (i !== j) t.addPeer(c.ids[j] as string, `127.0.0.1:${o.address().port}`);
        });
        transports.set(c.ids[i] as string, t);
      });
    } else {
      for (const id of c.ids) transports.set(id, network.transport(id));
    }
    for (const [i, id] of c.ids.entries()) {
      const storage: LogStorage =
        c.storage === 'sqlite'
          ? await openSqlite(c.sqliteThread, join(c.dir, `${id}.db`), id, c.checkpointPages)
          : new MemoryLogStorage();
      nodes.push(
        await RaftNode.start({
          id,
          bootstrap: [...c.ids],
          storage,
          transport: transports.get(id) as Transport,
          stateMachine: digests[i] as Digest,
          tickMs: c.tickMs,
          snapshotEntries: 50_000,
        }),
      );
    }
    (nodes[0] as RaftNode<number>).campaign();
    const leader = await waitFor('no leader elected', async () =>
      nodes.find((n) => n.status().role === 'leader'),
    );
    return {
      load: (spec, onProgress) => runLoad((d) => leader.propose(d), spec, onProgress),
      digests: async () => {
        const cu = process.cpuUsage(cpu0);
        const maxRssKB = process.resourceUsage().maxRSS;
        return digests.map((d, i) => ({
          id: c.ids[i] as string,
          count: d.count,
          hash: d.hash,
          lastAppliedAt: d.lastAppliedAt,
          cpuMs: (cu.user + cu.system) / 1000,
          maxRssKB,
          shared: true,
        }));
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A forked node-runner with request/answer over IPC. */
class Runner {
  private rid = 0;
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>();
  onProgress: (done: number) => void = () => {};
  readonly exited: Promise<void>;

  constructor(
    readonly id: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (raw) => {
      const m = raw as Record<string, unknown>;
      if (m.t === 'progress') return this.onProgress(m.done as number);
      const r = this.waiting.get(m.rid as number);
      this.waiting.delete(m.rid as number);
      r?.(m);
    });
    this.exited = new Promise((r) => proc.once('exit', () => r()));
    void this.exited.then(() => {
      for (const r of this.waiting.values()) r({ ok: false, error: `node ${id} exited` });
      this.waiting.clear();
    });
  }

  async ask<T = Record<string, unknown>>(m: RunnerRequest): Promise<T> {
    const rid = this.rid++;
    const answer = await new Promise<Record<string, unknown>>((res) => {
      this.waiting.set(rid, res);
      this.proc.send({ rid, ...m });
    });
    if (answer.ok !== true) throw new Error(`node ${this.id}: ${String(answer.error)}`);
    return answer as T;
  }
}

export async function processes(c: ClusterSpec): Promise<Driver> {
  if (c.transport !== 'ws') throw new Error('--processes needs --transport ws');
  const entry = fileURLToPath(new URL('./node-runner.ts', import.meta.url));
  const secret = randomBytes(12).toString('hex');
  const runners = c.ids.map(
    (id) =>
      new Runner(
        id,
        fork(entry, [], {
          execArgv: ['--conditions=@tsraft/source', '--import', 'tsx'],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      ),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(
      runners.map(async (r) => {
        await Promise.race([r.ask({ t: 'stop' }).catch(() => {}), sleep(5000)]);
        r.proc.kill('SIGKILL');
        await r.exited;
      }),
    );
  };
  try {
    const ports = await Promise.all(
      runners.map((r) =>
        r.ask<{ port: number }>({
          t: 'init',
          id: r.id,
          storage: c.storage,
          sqliteThread: c.sqliteThread,
          ...(c.checkpointPages !== undefined && { checkpointPages: c.checkpointPages }),
          dir: c.dir,
          secret,
        }),
      ),
    );
    const peers = Object.fromEntries(c.ids.map((id, i) => [id, ports[i]?.port as number]));
    await Promise.all(
      runners.map((r) => r.ask({ t: 'start', ids: [...c.ids], peers, tickMs: c.tickMs })),
    );
    await runners[0]?.ask({ t: 'campaign' });
    const leader = await waitFor('no leader elected', async () => {
      const roles = await Promise.all(runners.map((r) => r.ask<{ role: string }>({ t: 'role' })));
      return runners[roles.findIndex((x) => x.role === 'leader')];
    });
    return {
      load: async (spec, onProgress) => {
        leader.onProgress = onProgress;
        const a = await leader.ask<{
          done: number;
          startedAt: number;
          durationMs: number;
          latencies: number[];
        }>({ t: 'load', spec });
        onProgress(a.done);
        return { ...a, latencies: Float64Array.from(a.latencies) };
      },
      digests: () =>
        Promise.all(
          runners.map(async (r) => ({
            id: r.id,
            shared: false,
            ...(await r.ask<DigestAnswer>({ t: 'digest' })),
          })),
        ),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
