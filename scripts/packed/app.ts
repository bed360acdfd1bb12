/**
 * What a user writes after `npm install raft-core raft-kv raft-storage-sqlite raft-transport-ws`:
 * a 3-node key-value cluster in one process over WebSockets and SQLite files (n3's database on a
 * worker thread, which loads the package's dist/worker.js), then the same
 * cluster on raft-core/testing's in-memory transport and storage. Only the `Wiring` differs.
 * Run by scripts/packed-test.sh against the packed tarballs (outside the workspace).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LogStorage, RaftNode, type Transport } from 'raft-core';
import { MemoryLogStorage, MemoryNetwork } from 'raft-core/testing';
import { type KvResult, KvStateMachine, KvStore } from 'raft-kv';
import { SqliteLogStorage, SqliteWorkerLogStorage } from 'raft-storage-sqlite';
import { WsTransport } from 'raft-transport-ws';

interface Wiring {
  transports(ids: string[]): Promise<Transport[]>;
  storage(id: string): Promise<LogStorage>;
}

async function writeAndRead(name: string, wiring: Wiring): Promise<void> {
  const ids = ['n1', 'n2', 'n3'];
  const transports = await wiring.transports(ids);
  const stores = await Promise.all(
    ids.map(async (id, i) => {
      const sm = new KvStateMachine();
      const node = await RaftNode.start<KvResult>({
        id,
        bootstrap: ids,
        storage: await wiring.storage(id),
        transport: transports[i] as Transport,
        stateMachine: sm,
        tickMs: 20,
      });
      return new KvStore(node, sm);
    }),
  );
  try {
    const deadline = Date.now() + 20_000;
    const isLeader = (s: KvStore): boolean => s.node.status().role === 'leader';
    while (!stores.some(isLeader)) {
      if (Date.now() > deadline) throw new Error(`${name}: no leader within 20 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const leader = stores.find(isLeader) as KvStore;
    await leader.put('greeting', `hello over ${name}`);
    const follower = stores.find((s) => s !== leader) as KvStore;
    const value = await follower.get('greeting'); // linearizable read on a follower
    if (value !== `hello over ${name}`) throw new Error(`${name}: read back ${value}`);
    console.log(`${name}: ${follower.node.id} reads greeting=${JSON.stringify(value)}`);
  } finally {
    await Promise.all(stores.map((s) => s.node.stop({ transferLeadership: false })));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tsraft-packed-app-'));
try {
  await writeAndRead('ws+sqlite', {
    async transports(ids) {
      const ts = ids.map(
        (nodeId) =>
          new WsTransport({ nodeId, clusterId: 'packed', listen: '127.0.0.1:0', secret: 's3cret' }),
      );
      const ports = await Promise.all(ts.map(async (t) => (await t.listen()).port));
      for (const t of ts)
        for (const [i, id] of ids.entries()) t.addPeer(id, `127.0.0.1:${ports[i]}`);
      return ts;
    },
    storage: (id) => {
      const options = { path: join(dir, id, 'raft.db'), clusterId: 'packed', nodeId: id };
      return id === 'n3' ? SqliteWorkerLogStorage.open(options) : SqliteLogStorage.open(options);
    },
  });
  const network = new MemoryNetwork();
  await writeAndRead('memory', {
    transports: async (ids) => ids.map((id) => network.transport(id)),
    storage: async () => new MemoryLogStorage(),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
