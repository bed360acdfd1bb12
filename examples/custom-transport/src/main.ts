/**
 * A custom raft-core `Transport` that passes raft-core's conformance suite, then runs a 3-node
 * cluster. One `BroadcastChannel` (node:worker_threads) per node, reachable from any thread of
 * the process; messages travel by structured clone, so `Uint8Array` payloads arrive intact.
 */
import { BroadcastChannel } from 'node:worker_threads';
import type { Entry, Message, MessageHandler, NodeId, StateMachine, Transport } from 'raft-core';
import { RaftNode } from 'raft-core';
import { MemoryLogStorage, transportConformanceCases } from 'raft-core/testing';

const MAX_PER_TURN = 4_096; // messages posted per event-loop turn; beyond, send() drops them

export class BroadcastTransport implements Transport {
  #inbox: BroadcastChannel | null = null;
  #handler: MessageHandler | null = null;
  readonly #outboxes = new Map<NodeId, BroadcastChannel>();
  #sentThisTurn = 0;
  #stopped = false;

  /** Only transports with the same `namespace` (a cluster) reach each other. */
  constructor(
    readonly id: NodeId,
    readonly namespace: string,
  ) {}

  async start(handler: MessageHandler): Promise<void> {
    this.#handler = handler;
    this.#inbox = new BroadcastChannel(`${this.namespace}/${this.id}`);
    this.#inbox.onmessage = (event) => {
      const m = (event as { data?: Message }).data;
      if (m?.to === this.id) this.#handler?.(m); // the handler is null once stop() was called
    };
  }

  send(to: NodeId, messages: readonly Message[]): void {
    if (this.#stopped || to === this.id) return;
    const out = this.#outboxes.get(to) ?? new BroadcastChannel(`${this.namespace}/${to}`);
    this.#outboxes.set(to, out);
    for (const m of messages) {
      if (m.to !== to || this.#sentThisTurn >= MAX_PER_TURN) continue; // misaddressed, or too many
      if (this.#sentThisTurn++ === 0) setImmediate(() => (this.#sentThisTurn = 0));
      out.postMessage(m); // nobody listening (peer down or stopped): the channel drops it
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#handler = null;
    this.#inbox?.close();
    for (const out of this.#outboxes.values()) out.close();
  }
}

/** Answers each command with its log index (a real one holds state: see the other examples). */
const indexes = (): StateMachine<number> => ({
  apply: (e: Entry) => e.index,
  snapshot: () => new Uint8Array(),
  restore: () => {},
});

export async function main(log: (line: string) => void = console.log): Promise<number> {
  // The suite is plain async code: run it from any test runner (one it() per case) or a script.
  let clusters = 0;
  const cases = transportConformanceCases(async (ids) => {
    const ns = `conformance-${process.pid}-${clusters++}`; // a fresh cluster per case
    const transports = new Map(ids.map((id) => [id, new BroadcastTransport(id, ns)]));
    const restart = async (id: NodeId) => new BroadcastTransport(id, ns);
    return { transports, restart, cleanup: async () => {} };
  });
  for (const c of cases) {
    await c.run(); // throws on the first violation
    log(`conformance ok: ${c.name}`);
  }

  const ids = ['a', 'b', 'c'];
  const nodes = await Promise.all(
    ids.map((id) =>
      RaftNode.start({
        id,
        bootstrap: ids,
        storage: new MemoryLogStorage(),
        transport: new BroadcastTransport(id, `demo-${process.pid}`),
        stateMachine: indexes(),
        tickMs: 10,
      }),
    ),
  );
  const isLeader = (n: RaftNode<number>) => n.status().role === 'leader';
  while (!nodes.some(isLeader)) await new Promise((r) => setTimeout(r, 10));
  const leader = nodes.find(isLeader) as RaftNode<number>;
  let index = 0;
  for (let i = 1; i <= 10; i++) index = await leader.propose(Uint8Array.of(i));
  await Promise.all(nodes.map((n) => n.read())); // every node has applied the 10 commands now
  log(`10 commands committed over BroadcastChannel; the last at index ${index}`);
  await Promise.all(nodes.map((n) => n.stop({ transferLeadership: false })));
  return index;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
