import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessages } from '../src/index.js';
import { hasOpenssl, makePki } from './support/certs.js';
import { Cluster, heartbeat, recordingLogger, sleep, waitFor } from './support/helpers.js';
import { buildAuth, rawAuthenticated, rawConnect } from './support/raw-peer.js';

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

/** Start `b` (the server side) and `a` (dialing b); returns both with their loggers. */
async function pair(
  aOptions: Record<string, unknown>,
  bOptions: Record<string, unknown>,
  { aKnowsB = true, bKnowsA = true } = {},
) {
  const aLog = recordingLogger('a');
  const bLog = recordingLogger('b');
  const b = cluster.make({ nodeId: 'b', logger: bLog, ...bOptions });
  const a = cluster.make({ nodeId: 'a', logger: aLog, ...aOptions });
  await Promise.all([a.listen(), b.listen()]);
  if (aKnowsB) a.addPeer('b', `127.0.0.1:${b.address().port}`);
  if (bKnowsA) b.addPeer('a', `127.0.0.1:${a.address().port}`);
  const aInbox = await cluster.start(a);
  const bInbox = await cluster.start(b);
  return { a, b, aLog, bLog, aInbox, bInbox };
}

/** Keep sending from a to b until `cond` holds. */
async function pump(send: () => void, cond: () => boolean, what: string): Promise<void> {
  await waitFor(() => {
    send();
    return cond();
  }, what);
}

describe('authenticated handshake', () => {
  it('peers sharing the secret exchange messages, without the unauthenticated warning', async () => {
    const { a, b, aLog, bInbox } = await pair({ secret: 's' }, { secret: 's' });
    a.send('b', [heartbeat('a', 'b', 1)]);
    await waitFor(() => bInbox.length === 1, 'delivery');
    expect(aLog.has('warn', /UNAUTHENTICATED/)).toBe(false);
    expect(a.stats().outboundConnections).toBe(1);
    expect(b.stats().inboundConnections).toBe(1);
  });

  it('refuses a peer with the wrong secret (and logs it on both sides)', async () => {
    const { a, b, aLog, bLog, bInbox } = await pair({ secret: 'wrong' }, { secret: 'right' });
    await pump(
      () => a.send('b', [heartbeat('a', 'b', 1)]),
      () => b.stats().handshakesRefused >= 2,
      'refusals',
    );
    expect(bInbox).toEqual([]);
    expect(
      bLog.has(
        'warn',
        /refused connection: authentication failed: wrong secret or replayed handshake/,
      ),
    ).toBe(true);
    await waitFor(
      () => aLog.has('warn', /cannot connect to peer b \(msg\): authentication failed/),
      'client-side log',
    );
    expect(a.stats().connectFailures).toBeGreaterThanOrEqual(1);
    expect(b.stats().inboundConnections).toBe(0);
  });

  it('refuses a replayed handshake: every server challenge is fresh', async () => {
    const { b, bLog } = await pair({ secret: 's' }, { secret: 's' });
    const port = b.address().port;
    // A genuine handshake, recorded by an eavesdropper.
    const genuine = await rawAuthenticated(port, { clusterId: 'test', clientId: 'a', secret: 's' });
    genuine.ws.close();
    await genuine.closed;
    // Replaying it on a new connection answers a challenge it was not computed for.
    const replay = await rawConnect(port);
    expect(replay.hello.nonce.equals(genuine.hello.nonce)).toBe(false);
    replay.ws.send(genuine.auth);
    expect((await replay.closed).code).toBe(4004);
    expect(bLog.has('warn', /wrong secret or replayed handshake/)).toBe(true);
    expect(b.stats().handshakesRefused).toBe(1);
  });

  it('refuses an unknown node id', async () => {
    const { a, b, bLog, bInbox } = await pair({}, {}, { bKnowsA: false });
    await pump(
      () => a.send('b', [heartbeat('a', 'b', 1)]),
      () => b.stats().handshakesRefused >= 1,
      'a refusal',
    );
    expect(bInbox).toEqual([]);
    expect(bLog.has('warn', /refused connection: unknown node "a"/)).toBe(true);
    // And a raw client claiming a made-up id, even with the right secret.
    const c = await rawConnect(b.address().port);
    c.ws.send(
      buildAuth({
        clusterId: 'test',
        clientId: 'mallory',
        serverId: 'b',
        secret: 'test secret',
        serverNonce: c.hello.nonce,
      }),
    );
    expect((await c.closed).code).toBe(4003);
  });

  it('refuses another cluster, on both sides of the handshake', async () => {
    const { a, aLog, b, bInbox } = await pair({ clusterId: 'other' }, {});
    // a (client) sees b's HELLO for cluster "test" and gives up itself.
    await pump(
      () => a.send('b', [heartbeat('a', 'b', 1)]),
      () => aLog.has('warn', /peer is in cluster "test"/),
      'client refusal',
    );
    // b (server) refuses an AUTH for another cluster.
    const c = await rawConnect(b.address().port);
    c.ws.send(
      buildAuth({
        clusterId: 'other',
        clientId: 'a',
        serverId: 'b',
        secret: 'test secret',
        serverNonce: c.hello.nonce,
      }),
    );
    expect((await c.closed).code).toBe(4002);
    expect(bInbox).toEqual([]);
  });

  it('refuses a handshake for another node, and a client notices the wrong node at an address', async () => {
    const { a, aLog, b } = await pair({}, {});
    const c = await rawConnect(b.address().port);
    c.ws.send(
      buildAuth({
        clusterId: 'test',
        clientId: 'a',
        serverId: 'z',
        secret: 'test secret',
        serverNonce: c.hello.nonce,
      }),
    );
    expect((await c.closed).code).toBe(4005);
    a.addPeer('c', `127.0.0.1:${b.address().port}`); // b answers where a expects c
    await pump(
      () => a.send('c', [heartbeat('a', 'c', 1)]),
      () => aLog.has('warn', /node "b" answers at this address/),
      'client refusal',
    );
  });

  it('a node without a secret cannot talk to one with a secret, either way', async () => {
    const { a, b, aLog, aInbox, bInbox } = await pair({ secret: undefined }, { secret: 's' });
    await pump(
      () => {
        a.send('b', [heartbeat('a', 'b', 1)]);
        b.send('a', [heartbeat('b', 'a', 1)]);
      },
      () => b.stats().handshakesRefused >= 1 && b.stats().connectFailures >= 1,
      'refusals both ways',
    );
    await sleep(50);
    expect([aInbox, bInbox]).toEqual([[], []]);
    expect(aLog.has('warn', /UNAUTHENTICATED/)).toBe(true);
  });

  it('without any secret: works, with a loud warning', async () => {
    const { a, aLog, bInbox } = await pair({ secret: undefined }, { secret: undefined });
    expect(aLog.has('warn', /transport is UNAUTHENTICATED/)).toBe(true);
    a.send('b', [heartbeat('a', 'b', 1)]);
    await waitFor(() => bInbox.length === 1, 'delivery');
  });

  it('drops messages whose from/to do not match the authenticated connection', async () => {
    const { b, bInbox } = await pair({}, {});
    const c = await rawAuthenticated(b.address().port, {
      clusterId: 'test',
      clientId: 'a',
      secret: 'test secret',
    });
    c.ws.send(
      encodeMessages([
        heartbeat('mallory', 'b', 1),
        heartbeat('a', 'zed', 2),
        heartbeat('a', 'b', 3),
      ]),
    );
    await waitFor(() => bInbox.length === 1, 'the one well-addressed message');
    expect(bInbox).toEqual([heartbeat('a', 'b', 3)]);
    expect(b.stats().droppedMisaddressed).toBe(2);
    c.ws.terminate();
  });
});

describe('TLS (wss) with client certificates', () => {
  if (!hasOpenssl) {
    it.skip('needs an openssl binary to generate test certificates — not found on PATH, skipped', () => {});
    return;
  }

  it('peers with CA-signed certificates exchange messages; a rogue certificate is refused', async () => {
    const pki = makePki();
    try {
      const tls = { ca: pki.ca, cert: pki.cert, key: pki.key };
      const { a, b, bLog, aInbox, bInbox } = await pair({ tls }, { tls });
      a.send('b', [heartbeat('a', 'b', 1)]);
      b.send('a', [heartbeat('b', 'a', 2)]);
      await waitFor(
        () => aInbox.length === 1 && bInbox.length === 1,
        'delivery both ways over wss',
      );
      // A client whose certificate another CA signed (it trusts our CA, and knows the secret).
      const rogue = cluster.make({
        nodeId: 'a',
        tls: { ca: pki.ca, cert: pki.rogueCert, key: pki.rogueKey },
      });
      rogue.addPeer('b', `127.0.0.1:${b.address().port}`);
      await cluster.start(rogue);
      const refusedBefore = b.stats().handshakesRefused;
      await pump(
        () => rogue.send('b', [heartbeat('a', 'b', 3)]),
        () => rogue.stats().connectFailures >= 1,
        'rogue refused',
      );
      await waitFor(() => b.stats().handshakesRefused > refusedBefore, 'server-side TLS refusal');
      expect(bLog.has('warn', /refused a TLS connection/)).toBe(true);
      expect(bInbox).toHaveLength(1);
    } finally {
      pki.cleanup();
    }
  });
});
