import { RaftNode } from 'raft-core';
import { MemoryLogStorage, MemoryNetwork } from 'raft-core/testing'; // or sqlite + ws
import { type KvResult, KvStateMachine, KvStore } from 'raft-kv';

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const ids = ['a', 'b', 'c'];
  const network = new MemoryNetwork();
  const stores = await Promise.all(
    ids.map(async (id) => {
      const sm = new KvStateMachine(); // same options on every replica
      const node = await RaftNode.start<KvResult>({
        id,
        bootstrap: ids,
        storage: new MemoryLogStorage(),
        transport: network.transport(id),
        stateMachine: sm,
        tickMs: 10,
      });
      return new KvStore(node, sm);
    }),
  );
  try {
    let leader = stores.find((s) => s.node.status().role === 'leader');
    for (; leader === undefined; leader = stores.find((s) => s.node.status().role === 'leader')) {
      await new Promise((r) => setTimeout(r, 10)); // electing a leader
    }
    await leader.put('config/color', 'blue');
    const swap = await leader.cas('config/color', 'blue', 'green');
    log(`cas swapped: ${swap.ok}, was ${swap.prev}`);

    // Linearizable read on a follower: a ReadIndex round, then its local state machine.
    const follower = stores.find((s) => s !== leader) as KvStore;
    log(`follower reads ${await follower.get('config/color')}`);

    // A retry with the same session is answered from the session table, not applied twice.
    const session = { clientId: 'client-42', seq: 1 };
    await leader.put('counter', '1', { session });
    const retry = await leader.put('counter', '1', { session });
    log(`retry duplicate: ${retry.duplicate === true}`);

    const page = await leader.list('config/', 10);
    log(`list: ${page.items.map((i) => `${i.key}=${i.value}`).join(', ')}`);
  } finally {
    await Promise.all(stores.map((s) => s.node.stop()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
