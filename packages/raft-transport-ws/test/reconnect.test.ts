import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Cluster,
  heartbeat,
  recordingLogger,
  sleep,
  tcpHandles,
  waitFor,
} from './support/helpers.js';

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const hasContext = (inbox: { type: string; context?: number }[], c: number): boolean =>
  inbox.some((m) => m.type === 'MsgHeartbeat' && m.context === c);

describe('reconnect', () => {
  it('a peer restarted on the same port gets messages again; nothing leaks', async () => {
    const before = tcpHandles();
    const nodes = await cluster.mesh(['a', 'b']);
    const a = nodes.get('a')!.t;
    const b1 = nodes.get('b')!;
    const port = b1.t.address().port;
    a.send('b', [heartbeat('a', 'b', 1)]);
    await waitFor(() => hasContext(b1.inbox, 1), 'the first delivery');
    expect(a.stats().outboundConnections).toBe(1);

    await b1.t.stop();
    expect(b1.t.stats()).toMatchObject({
      timers: 0,
      inboundConnections: 0,
      outboundConnections: 0,
      pendingConnections: 0,
    });
    for (let i = 0; i < 10; i++) a.send('b', [heartbeat('a', 'b', 2)]);
    await waitFor(() => a.stats().outboundConnections === 0, 'a to notice');

    const b2 = cluster.make({ nodeId: 'b', listen: `127.0.0.1:${port}` });
    b2.addPeer('a', `127.0.0.1:${a.address().port}`);
    const inbox2 = await cluster.start(b2);
    let c = 100;
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', c++)]);
      return inbox2.length > 0;
    }, 'delivery to the restarted peer');
    b2.send('a', [heartbeat('b', 'a', 7)]);
    await waitFor(() => hasContext(nodes.get('a')!.inbox, 7), 'the restarted peer to answer');
    // Still one outbound connection per peer after reconnecting.
    expect(a.stats().outboundConnections).toBe(1);
    expect(b2.stats().inboundConnections).toBe(1);

    await cluster.stopAll();
    await waitFor(
      () => {
        const now = tcpHandles();
        return now.sockets <= before.sockets && now.servers <= before.servers;
      },
      `TCP handles back to ${JSON.stringify(before)} (now ${JSON.stringify(tcpHandles())})`,
    );
  });

  it('backs off exponentially (with jitter) while a peer is down, and drops rather than queues', async () => {
    const log = recordingLogger('a');
    const a = cluster.make({
      nodeId: 'a',
      logger: log,
      backoffInitialMs: 20,
      backoffMaxMs: 160,
      random: () => 0.5,
    });
    a.addPeer('b', `127.0.0.1:${await deadPort()}`);
    await cluster.start(a);
    let sends = 0;
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', sends++)]);
      return a.stats().connectFailures >= 6;
    }, 'six failed attempts');
    // Unsent messages are dropped when an attempt fails, never piled up.
    expect(a.stats().droppedUnreachable).toBeGreaterThan(0);
    const failures = log.lines.filter((l) => /cannot connect to peer b/.test(l.msg)).slice(0, 6);
    expect(failures.map((l) => l.fields?.attempt)).toEqual([0, 1, 2, 3, 4, 5]);
    // Attempts follow the backoff, not the send rate: attempt k+1 starts at least
    // 0.75 × min(160, 20 × 2^k) ms after failure k (random() = 0.5 → factor 0.75). Timers never
    // fire early, so this lower bound holds however slow the machine is.
    for (let k = 0; k + 1 < failures.length; k++) {
      const gap = failures[k + 1]!.at - failures[k]!.at;
      expect(gap).toBeGreaterThanOrEqual(Math.floor(0.75 * Math.min(160, 20 * 2 ** k)) - 1);
    }
  });

  it('removePeer closes both directions and refuses the peer; addPeer admits it again', async () => {
    const nodes = await cluster.mesh(['a', 'b']);
    const { t: a, inbox: aInbox } = nodes.get('a')!;
    const { t: b, inbox: bInbox } = nodes.get('b')!;
    a.send('b', [heartbeat('a', 'b', 1)]);
    b.send('a', [heartbeat('b', 'a', 1)]);
    await waitFor(() => aInbox.length === 1 && bInbox.length === 1, 'both directions');
    const aPort = a.address().port;

    b.removePeer('a');
    await waitFor(
      () => b.stats().inboundConnections === 0 && b.stats().outboundConnections === 0,
      'b to drop a',
    );
    b.send('a', [heartbeat('b', 'a', 2)]);
    expect(b.stats().droppedUnknownPeer).toBe(1);
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', 2)]);
      return b.stats().handshakesRefused > 0;
    }, 'b to refuse a');
    expect(bInbox).toHaveLength(1);

    b.addPeer('a', `127.0.0.1:${aPort}`);
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', 3)]);
      return hasContext(bInbox, 3);
    }, 'a to be admitted again');
  });

  it('addPeer with a new address moves the connection there', async () => {
    const nodes = await cluster.mesh(['a', 'b']);
    const a = nodes.get('a')!.t;
    a.send('b', [heartbeat('a', 'b', 1)]);
    await waitFor(() => nodes.get('b')!.inbox.length === 1, 'delivery to the old b');
    await nodes.get('b')!.t.stop();
    const moved = cluster.make({ nodeId: 'b' });
    moved.addPeer('a', `127.0.0.1:${a.address().port}`);
    const inbox = await cluster.start(moved);
    a.addPeer('b', `127.0.0.1:${moved.address().port}`);
    let c = 10;
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', c++)]);
      return inbox.length > 0;
    }, 'delivery at the new address');
    await sleep(0);
  });
});
