/**
 * The smallest useful Raft: one node, a counter state machine, proposals that resolve with the
 * applied result, and a restart that recovers the state from storage (snapshot + log tail).
 */
import { type Entry, RaftNode, type StateMachine } from 'raft-core';
import { MemoryLogStorage, MemoryNetwork } from 'raft-core/testing';

class Counter implements StateMachine<number> {
  value = 0;
  apply(entry: Entry): number {
    if (entry.type === 0 && entry.data.length > 0) this.value += entry.data[0] as number;
    return this.value;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.value));
  }
  restore(bytes: Uint8Array): void {
    this.value = Number(new TextDecoder().decode(bytes));
  }
}

async function startNode(storage: MemoryLogStorage, counter: Counter): Promise<RaftNode<number>> {
  const node = await RaftNode.start({
    id: 'solo',
    bootstrap: ['solo'],
    storage,
    transport: new MemoryNetwork().transport('solo'),
    stateMachine: counter,
    tickMs: 10,
    snapshotEntries: 5, // snapshot every 5 entries, to show recovery from snapshot + tail
  });
  node.campaign(); // a single voter elects itself at once
  return node;
}

export async function main(log: (line: string) => void = console.log): Promise<number> {
  const storage = new MemoryLogStorage(); // stands in for a durable LogStorage
  const node = await startNode(storage, new Counter());
  for (let i = 1; i <= 7; i++) log(`+${i} → ${await node.propose(Uint8Array.of(i))}`);
  await node.stop();

  const counter = new Counter();
  const again = await startNode(storage, counter);
  await again.read(); // linearizable: every write acknowledged before is applied
  log(`after restart the counter is ${counter.value}`);
  await again.stop();
  return counter.value;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
