import { describe, expect, it } from 'vitest';
import type { MessageHandler, Transport } from '../ports.js';
import type { Message, NodeId } from '../types.js';
import { MemoryNetwork } from './memory-transport.js';
import { type TransportFactory, transportConformanceCases } from './transport-conformance.js';

const factory: TransportFactory = async (ids) => {
  const network = new MemoryNetwork();
  return {
    transports: new Map(ids.map((id) => [id, network.transport(id)])),
    restart: async (id) => network.transport(id),
    cleanup: async () => {},
  };
};

describe('MemoryTransport conformance', () => {
  for (const c of transportConformanceCases(factory)) it(c.name, c.run);
});

const hb = (from: NodeId, to: NodeId, context: number): Message => ({
  type: 'MsgHeartbeat',
  from,
  to,
  term: 1,
  commit: 0,
  context,
});

async function started(
  network: MemoryNetwork,
  id: NodeId,
): Promise<{ t: Transport; inbox: Message[] }> {
  const inbox: Message[] = [];
  const t = network.transport(id);
  await t.start((m) => inbox.push(m));
  return { t, inbox };
}

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

describe('MemoryNetwork', () => {
  it('delivers asynchronously, by reference, in send order', async () => {
    const network = new MemoryNetwork();
    const a = await started(network, 'a');
    const b = await started(network, 'b');
    const sent = [hb('a', 'b', 1), hb('a', 'b', 2)];
    a.t.send('b', sent);
    expect(b.inbox).toEqual([]);
    await turn();
    expect(b.inbox).toHaveLength(2);
    expect(b.inbox[0]).toBe(sent[0]);
    expect(b.inbox[1]).toBe(sent[1]);
  });

  it('partition() cuts both directions until heal(); isolate() cuts a node off', async () => {
    const network = new MemoryNetwork();
    const a = await started(network, 'a');
    const b = await started(network, 'b');
    const c = await started(network, 'c');
    network.partition('a', 'b');
    a.t.send('b', [hb('a', 'b', 1)]);
    b.t.send('a', [hb('b', 'a', 1)]);
    a.t.send('c', [hb('a', 'c', 1)]);
    await turn();
    expect([a.inbox.length, b.inbox.length, c.inbox.length]).toEqual([0, 0, 1]);
    network.heal();
    network.isolate('c');
    a.t.send('b', [hb('a', 'b', 2)]);
    a.t.send('c', [hb('a', 'c', 2)]);
    c.t.send('a', [hb('c', 'a', 2)]);
    await turn();
    expect([a.inbox.length, b.inbox.length, c.inbox.length]).toEqual([0, 1, 1]);
    expect(network.counters.dropped).toBe(4);
  });

  it('drops by dropRate and by maxPending', async () => {
    const network = new MemoryNetwork({ dropRate: 1, maxPending: 3 });
    const a = await started(network, 'a');
    const b = await started(network, 'b');
    a.t.send('b', [hb('a', 'b', 1)]);
    await turn();
    expect(b.inbox).toHaveLength(0);
    network.setDropRate(0);
    a.t.send(
      'b',
      [1, 2, 3, 4, 5].map((i) => hb('a', 'b', i)),
    );
    await turn();
    expect(b.inbox.map((m) => (m.type === 'MsgHeartbeat' ? m.context : -1))).toEqual([1, 2, 3]);
  });

  it('gives a node a new transport only once the previous one stopped', async () => {
    const network = new MemoryNetwork();
    const a = network.transport('a');
    expect(() => network.transport('a')).toThrow(/already has a running transport/);
    await a.stop();
    await expect(a.start(() => {})).rejects.toThrow(/stopped/);
    expect(network.transport('a')).not.toBe(a);
  });
});

/** Wraps MemoryTransports to break one rule, to prove the suite notices. */
function brokenFactory(breakIt: (inner: Transport, id: NodeId) => Transport): TransportFactory {
  return async (ids) => {
    const network = new MemoryNetwork();
    return {
      transports: new Map(ids.map((id) => [id, breakIt(network.transport(id), id)])),
      cleanup: async () => {},
    };
  };
}

describe('transport conformance suite catches broken transports', () => {
  const run = (factory: TransportFactory, name: string) =>
    transportConformanceCases(factory)
      .find((c) => c.name.startsWith(name))!
      .run();

  it('a transport that corrupts a field', async () => {
    const factory = brokenFactory((inner) => ({
      start: (h: MessageHandler) =>
        inner.start((m) => h(m.type === 'MsgVote' ? { ...m, transfer: !m.transfer } : m)),
      send: (to, ms) => inner.send(to, ms),
      stop: () => inner.stop(),
    }));
    await expect(run(factory, 'round-trips')).rejects.toThrow(/never sent/);
  });

  it('a transport that calls the handler after stop()', async () => {
    const factory = brokenFactory((inner) => ({
      start: (h: MessageHandler) => inner.start(h),
      send: (to, ms) => inner.send(to, ms),
      stop: async () => {},
    }));
    await expect(run(factory, 'never calls the handler')).rejects.toThrow(/after stop/);
  });

  it('a transport that delivers to everyone', async () => {
    const factory = brokenFactory((inner, id) => ({
      start: (h: MessageHandler) => inner.start(h),
      send: (to, ms) => {
        for (const other of ['a', 'b', 'c'])
          if (other !== id)
            inner.send(
              other,
              ms.map((m) => ({ ...m, to: other })),
            );
        void to;
      },
      stop: () => inner.stop(),
    }));
    await expect(run(factory, 'delivers only to the addressee')).rejects.toThrow(/never sent/);
  });
});
