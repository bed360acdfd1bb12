import { type Entry, RaftNode, type StateMachine } from 'raft-core';
import { MemoryLogStorage } from 'raft-core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, waitFor } from './support/helpers.js';

/** Remembers applied payloads, in order. */
class Recorder implements StateMachine<number> {
  readonly applied: string[] = [];
  apply(entry: Entry): number {
    if (entry.type === 0 && entry.data.length > 0)
      this.applied.push(new TextDecoder().decode(entry.data));
    return this.applied.length;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.applied));
  }
  restore(data: Uint8Array): void {
    this.applied.splice(
      0,
      this.applied.length,
      ...(JSON.parse(new TextDecoder().decode(data)) as string[]),
    );
  }
}

const cluster = new Cluster();
const nodes: RaftNode<number>[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  await cluster.stopAll();
});

describe('a 3-node RaftNode cluster over WsTransport', () => {
  it('elects a leader and replicates proposals to every node, in the same order', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const transports = await cluster.wired(ids);
    const machines = new Map(ids.map((id) => [id, new Recorder()]));
    for (const id of ids) {
      nodes.push(
        await RaftNode.start({
          id,
          storage: new MemoryLogStorage(),
          transport: transports.get(id)!,
          stateMachine: machines.get(id)!,
          bootstrap: ids,
          tickMs: 50, // elections after 0.5–1 s: no spurious ones on a loaded machine
          sync: false,
        }),
      );
    }
    await waitFor(() => nodes.some((n) => n.status().role === 'leader'), 'a leader', 30_000);
    const leader = nodes.find((n) => n.status().role === 'leader')!;
    const proposals = Array.from({ length: 500 }, (_, i) => `cmd-${i}`);
    const results = await Promise.all(
      proposals.map((p) => leader.propose(new TextEncoder().encode(p))),
    );
    expect(results).toEqual(proposals.map((_, i) => i + 1));
    await waitFor(
      () => ids.every((id) => machines.get(id)!.applied.length === proposals.length),
      'every node to apply every entry',
      30_000,
    );
    for (const id of ids) expect(machines.get(id)!.applied).toEqual(proposals);
  });
});
