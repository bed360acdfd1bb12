import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Message } from 'raft-core';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, heartbeat, recordingLogger, waitFor } from './support/helpers.js';
import { buildAuth, fakePeerServer, rawAuthenticated, rawConnect } from './support/raw-peer.js';

const cluster = new Cluster();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await cluster.stopAll();
});

/** A started node `b` plus a legit peer `a`; `check()` proves b still serves a. */
async function target(options: Record<string, unknown> = {}) {
  const log = recordingLogger('b');
  const nodes = await cluster.mesh(['a', 'b'], options, (id) =>
    id === 'b' ? { logger: log } : {},
  );
  const { t: a } = nodes.get('a')!;
  const { t: b, inbox } = nodes.get('b')!;
  let context = 1_000;
  const check = async (): Promise<void> => {
    const c = context++;
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', c)]);
      return inbox.some((m) => m.type === 'MsgHeartbeat' && m.context === c);
    }, 'b to keep serving its legit peer');
  };
  return { a, b, inbox, log, port: b.address().port, check };
}

function rawTcp(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      resolve({ socket, closed });
    });
    socket.on('error', () => {});
    socket.once('error', reject);
    cleanups.push(() => void socket.destroy());
  });
}

describe('hostile or broken connections', () => {
  it('garbage bytes instead of HTTP: the socket is closed, the server keeps serving', async () => {
    const { port, check } = await target();
    await check();
    for (let i = 0; i < 5; i++) {
      const { socket, closed } = await rawTcp(port);
      socket.write(randomBytes(4096));
      await closed;
    }
    await check();
  });

  it('garbage instead of the AUTH frame: refused', async () => {
    const { b, port, check, log } = await target();
    for (const frame of [
      randomBytes(100),
      Buffer.of(0x82, 1, 200),
      Buffer.of(0x82, 9),
      Buffer.alloc(0),
    ]) {
      const c = await rawConnect(port);
      c.ws.send(frame);
      const { code } = await c.closed;
      expect([4000, 4001]).toContain(code);
    }
    const c = await rawConnect(port);
    c.ws.send('a text frame');
    expect((await c.closed).code).toBe(1007);
    expect(b.stats().handshakesRefused).toBe(5);
    expect(log.has('warn', /refused connection/)).toBe(true);
    await check();
  });

  it('malformed frames after auth: that connection is closed (1007), others are unaffected', async () => {
    const { b, port, check, inbox } = await target();
    const frames = [
      randomBytes(64),
      Buffer.of(2, 1, 7), // another codec version
      Buffer.of(1, 1, 99, 1, 0x61, 1, 0x62, 1), // unknown type code
      Buffer.of(1, 1, 7, 1, 0x61, 1, 0x62, 1, 0), // truncated
      Buffer.of(1, 0xff, 0xff, 0xff, 0xff, 0x0f), // huge count
    ];
    for (const frame of frames) {
      const c = await rawAuthenticated(port, {
        clusterId: 'test',
        clientId: 'a',
        lane: 'snap',
        secret: 'test secret',
      });
      c.ws.send(frame);
      expect((await c.closed).code).toBe(1007);
    }
    expect(b.stats().decodeErrors).toBe(frames.length);
    expect(inbox).toEqual([]);
    await check();
  });

  it('oversized frames: closed (1009) before and after auth; the sender drops them', async () => {
    const { a, b, port, check } = await target({ maxFrameBytes: 64 * 1024 });
    const before = await rawConnect(port);
    before.ws.send(randomBytes(100 * 1024));
    expect((await before.closed).code).toBe(1009);
    const after = await rawAuthenticated(port, {
      clusterId: 'test',
      clientId: 'a',
      lane: 'snap',
      secret: 'test secret',
    });
    after.ws.send(randomBytes(100 * 1024));
    expect((await after.closed).code).toBe(1009);
    const big: Message = {
      type: 'MsgApp',
      from: 'a',
      to: 'b',
      term: 1,
      index: 0,
      logTerm: 0,
      commit: 0,
      entries: [{ index: 1, term: 1, type: 0, data: new Uint8Array(100 * 1024) }],
    };
    a.send('b', [big]);
    expect(a.stats().droppedTooLarge).toBe(1);
    expect(b.stats().inboundConnections).toBeLessThanOrEqual(1);
    await check();
  });

  it('a silent TCP connection and a stalled handshake are closed after handshakeTimeoutMs', async () => {
    const { b, port, check, log } = await target({ handshakeTimeoutMs: 300 });
    const silent = await rawTcp(port);
    const stalled = await rawConnect(port); // upgraded, got HELLO, never answers
    expect(b.stats().pendingConnections).toBe(2);
    await silent.closed;
    await stalled.closed;
    expect(b.stats().pendingConnections).toBe(0);
    expect(b.stats().handshakesRefused).toBe(2);
    expect(log.has('warn', /did not complete its handshake in time/)).toBe(true);
    await check();
  });

  it('at most maxPendingHandshakes unauthenticated sockets at once', async () => {
    const { b, port, check } = await target({ handshakeTimeoutMs: 500, maxPendingHandshakes: 3 });
    const sockets = await Promise.all(Array.from({ length: 10 }, () => rawTcp(port)));
    await waitFor(() => b.stats().handshakesRefused >= 7, 'the excess to be refused');
    expect(b.stats().pendingConnections).toBeLessThanOrEqual(3);
    await Promise.all(sockets.map((s) => s.closed));
    expect(b.stats().pendingConnections).toBe(0);
    await check();
  });

  it('a slow reader: queue and socket buffer stay bounded, and the dead connection is dropped', async () => {
    const peer = await fakePeerServer({
      clusterId: 'test',
      serverId: 'slow',
      secret: 'test secret',
      pauseAfterAuth: true,
    });
    cleanups.push(() => peer.close());
    const log = recordingLogger('a');
    const limits = {
      maxQueueBytes: 1024 * 1024,
      highWaterMarkBytes: 256 * 1024,
      maxBatchBytes: 128 * 1024,
    };
    const a = cluster.make({ nodeId: 'a', logger: log, pingIntervalMs: 200, ...limits });
    a.addPeer('slow', `127.0.0.1:${peer.port}`);
    await cluster.start(a);
    const chunk = new Uint8Array(64 * 1024);
    let maxQueued = 0;
    let maxBuffered = 0;
    let index = 0;
    await waitFor(() => {
      for (let i = 0; i < 8; i++) {
        a.send('slow', [
          {
            type: 'MsgApp',
            from: 'a',
            to: 'slow',
            term: 1,
            index,
            logTerm: 1,
            commit: 0,
            entries: [{ index: ++index, term: 1, type: 0, data: chunk }],
          },
        ]);
      }
      const s = a.stats();
      maxQueued = Math.max(maxQueued, s.queuedBytes);
      maxBuffered = Math.max(maxBuffered, s.bufferedBytes);
      return log.has('warn', /no pong from peer slow/) && s.droppedQueueFull > 0;
    }, 'the queue to fill and the silent connection to be dropped');
    expect(peer.authenticated).toBeGreaterThanOrEqual(1);
    expect(maxQueued).toBeLessThanOrEqual(limits.maxQueueBytes);
    expect(maxBuffered).toBeLessThanOrEqual(
      limits.highWaterMarkBytes + limits.maxBatchBytes + 1024,
    );
  });

  it('a handler that throws is logged and later messages still arrive', async () => {
    const log = recordingLogger('b');
    const a = cluster.make({ nodeId: 'a' });
    const b = cluster.make({ nodeId: 'b', logger: log });
    await Promise.all([a.listen(), b.listen()]);
    a.addPeer('b', `127.0.0.1:${b.address().port}`);
    b.addPeer('a', `127.0.0.1:${a.address().port}`);
    const got: number[] = [];
    await b.start((m) => {
      if (m.type === 'MsgHeartbeat' && m.context === 1) throw new Error('boom');
      if (m.type === 'MsgHeartbeat') got.push(m.context);
    });
    a.send('b', [heartbeat('a', 'b', 1), heartbeat('a', 'b', 2)]);
    await waitFor(() => got.includes(2), 'the message after the throwing one');
    expect(log.has('error', /message handler threw on MsgHeartbeat from a: boom/)).toBe(true);
  });

  it('snapshot chunks use their own connection and do not hold up heartbeats', async () => {
    const nodes = await cluster.mesh(['a', 'b'], { maxQueueBytes: 64 * 1024 * 1024 });
    const a = nodes.get('a')!.t;
    const { t: b, inbox } = nodes.get('b')!;
    const meta = {
      index: 10,
      term: 1,
      confState: {
        voters: ['a', 'b'],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
    };
    const chunk = new Uint8Array(1024 * 1024);
    const chunks = 24;
    for (let i = 0; i < chunks; i++) {
      a.send('b', [
        {
          type: 'MsgSnap',
          from: 'a',
          to: 'b',
          term: 1,
          meta,
          offset: i * chunk.length,
          totalBytes: chunks * chunk.length,
          data: chunk,
          done: i === chunks - 1,
        },
      ]);
    }
    a.send('b', [heartbeat('a', 'b', 1)]);
    await waitFor(() => inbox.length === chunks + 1, 'every chunk and the heartbeat');
    const heartbeatAt = inbox.findIndex((m) => m.type === 'MsgHeartbeat');
    expect(heartbeatAt).toBeLessThan(chunks); // not stuck behind the last chunk
    expect(a.stats().outboundConnections).toBe(2);
    expect(b.stats().inboundConnections).toBe(2);
  });

  it('refuses garbage AUTH frames from many clients without growing', async () => {
    const { b, port, check } = await target();
    for (let i = 0; i < 20; i++) {
      const c = await rawConnect(port);
      c.ws.send(
        buildAuth({
          clusterId: 'test',
          clientId: 'a',
          serverId: 'b',
          secret: `guess ${i}`,
          serverNonce: c.hello.nonce,
        }),
      );
      expect((await c.closed).code).toBe(4004);
    }
    await waitFor(() => b.stats().pendingConnections === 0, 'every refused socket to close');
    expect(b.stats().inboundConnections).toBe(0); // lanes connect lazily: a has sent nothing yet
    await check();
    expect(b.stats().inboundConnections).toBe(1);
  });
});
