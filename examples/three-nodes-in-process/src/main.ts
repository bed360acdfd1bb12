/**
 * Three Raft nodes in one process: in-memory network and storage, a tiny key-value state
 * machine, writes, a linearizable read on a follower, a leadership transfer, a clean stop.
 */
import { type Entry, RaftNode, type StateMachine } from 'raft-core';
import { MemoryLogStorage, MemoryNetwork } from 'raft-core/testing';

/** A key-value map; commands are "key=value" strings. */
class KvStateMachine implements StateMachine<string | null> {
  readonly data = new Map<string, string>();
  apply(entry: Entry): string | null {
    if (entry.type !== 0 || entry.data.length === 0) return null; // no-ops and membership entries
    const [key, value] = new TextDecoder().decode(entry.data).split('=') as [string, string];
    const previous = this.data.get(key) ?? null;
    this.data.set(key, value);
    return previous;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.data]));
  }
  restore(bytes: Uint8Array): void {
    this.data.clear();
    for (const [k, v] of JSON.parse(new TextDecoder().decode(bytes)) as [string, string][])
      this.data.set(k, v);
  }
}

export async function main(
  log: (line: string) => void = console.log,
): Promise<Map<string, string>> {
  const ids = ['a', 'b', 'c'];
  const network = new MemoryNetwork();
  const machines = new Map(ids.map((id) => [id, new KvStateMachine()]));
  const nodes = await Promise.all(
    ids.map((id) =>
      RaftNode.start({
        id,
        bootstrap: ids,
        storage: new MemoryLogStorage(),
        transport: network.transport(id),
        stateMachine: machines.get(id) as KvStateMachine,
        tickMs: 50, // elections after 0.5–1 s (heartbeats every 50 ms)
      }),
    ),
  );
  const leaderOf = async (): Promise<RaftNode<string | null>> => {
    for (;;) {
      const l = nodes.find((n) => n.status().role === 'leader');
      if (l) return l;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    const leader = await leaderOf();
    log(`leader: ${leader.id}`);
    await leader.propose(new TextEncoder().encode('greeting=hello'));
    const previous = await leader.propose(new TextEncoder().encode('greeting=bonjour'));
    log(`greeting was ${previous}`);

    // A linearizable read on a follower: ReadIndex, then the local state machine.
    const follower = nodes.find((n) => n !== leader) as RaftNode<string | null>;
    await follower.read();
    log(
      `follower ${follower.id} reads greeting=${machines.get(follower.id)?.data.get('greeting')}`,
    );

    await leader.transferLeadership(follower.id);
    log(`leadership transferred to ${follower.id}`);
    await follower.propose(new TextEncoder().encode('greeting=hola'));
    await leader.read();
    return machines.get(leader.id)?.data ?? new Map();
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const data = await main();
  console.log(`final state: ${JSON.stringify([...data])}`);
}
