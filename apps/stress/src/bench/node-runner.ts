/**
 * One benchmark node in its own process (`stress bench --processes`): the parent forks this
 * file and drives it over IPC. Each request carries `rid`; the answer echoes it. The node
 * listens on a WebSocket port of its own and, when it is the leader, runs the load itself
 * (so proposals never cross the IPC channel).
 */
import { join } from 'node:path';
import { type LogStorage, RaftNode } from 'raft-core';
import { MemoryLogStorage } from 'raft-core/testing';
import { WsTransport } from 'raft-transport-ws';
import { Digest } from './digest.js';
import { type LoadSpec, runLoad } from './load.js';
import { openSqlite } from './sqlite.js';

export type RunnerRequest =
  | {
      t: 'init';
      id: string;
      storage: 'sqlite' | 'memory';
      sqliteThread: 'main' | 'worker';
      checkpointPages?: number;
      dir: string;
      secret: string;
    }
  | { t: 'start'; ids: string[]; peers: Record<string, number>; tickMs: number }
  | { t: 'campaign' }
  | { t: 'role' }
  | { t: 'load'; spec: LoadSpec }
  | { t: 'digest' }
  | { t: 'stop' };

export interface DigestAnswer {
  count: number;
  hash: number;
  lastAppliedAt: number;
  cpuMs: number;
  maxRssKB: number;
}

let transport: WsTransport | undefined;
let storage: LogStorage | undefined;
let node: RaftNode<number> | undefined;
let id = '';
const digest = new Digest();
const cpu0 = process.cpuUsage();

function send(m: object): void {
  process.send?.(m);
}

async function handle(m: RunnerRequest): Promise<object> {
  switch (m.t) {
    case 'init': {
      id = m.id;
      transport = new WsTransport({
        nodeId: id,
        clusterId: 'stress',
        listen: '127.0.0.1:0',
        secret: m.secret,
      });
      await transport.listen();
      storage =
        m.storage === 'sqlite'
          ? await openSqlite(m.sqliteThread, join(m.dir, `${id}.db`), id, m.checkpointPages)
          : new MemoryLogStorage();
      return { port: transport.address().port };
    }
    case 'start': {
      if (transport === undefined || storage === undefined) throw new Error('start before init');
      for (const [peer, port] of Object.entries(m.peers)) {
        if (peer !== id) transport.addPeer(peer, `127.0.0.1:${port}`);
      }
      node = await RaftNode.start({
        id,
        bootstrap: m.ids,
        storage,
        transport,
        stateMachine: digest,
        tickMs: m.tickMs,
        snapshotEntries: 50_000,
      });
      return {};
    }
    case 'campaign':
      node?.campaign();
      return {};
    case 'role':
      return { role: node?.status().role ?? 'none' };
    case 'load': {
      const n = node;
      if (n === undefined) throw new Error('load before start');
      const r = await runLoad(
        (d) => n.propose(d),
        m.spec,
        (done) => send({ t: 'progress', done }),
      );
      return {
        done: r.done,
        startedAt: r.startedAt,
        durationMs: r.durationMs,
        latencies: Array.from(r.latencies),
      };
    }
    case 'digest': {
      const c = process.cpuUsage(cpu0);
      const a: DigestAnswer = {
        count: digest.count,
        hash: digest.hash,
        lastAppliedAt: digest.lastAppliedAt,
        cpuMs: (c.user + c.system) / 1000,
        maxRssKB: process.resourceUsage().maxRSS,
      };
      return a;
    }
    case 'stop':
      await node?.stop({ transferLeadership: false });
      setTimeout(() => process.exit(0), 10);
      return {};
  }
}

process.on('message', (raw) => {
  const { rid, ...m } = raw as RunnerRequest & { rid: number };
  handle(m as RunnerRequest).then(
    (a) => send({ rid, ok: true, ...a }),
    (e: unknown) => send({ rid, ok: false, error: (e as Error).stack ?? String(e) }),
  );
});
// The parent going away (even by kill -9) closes the IPC channel: never outlive it.
process.on('disconnect', () => process.exit(1));
