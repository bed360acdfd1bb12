/**
 * Refusals a user can see without a logger (`on('peerError')`, `peerStatus()`), rate-limited
 * warnings while a misconfigured peer keeps retrying, and the error guard's name.
 */
import { RaftError } from 'raft-core';
import { afterEach, describe, expect, it } from 'vitest';
import { type WsPeerError, WsTransportError } from '../src/index.js';
import { Cluster, heartbeat, recordingLogger, waitFor } from './support/helpers.js';

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

/** `a` dials `b` with these options; neither has a logger unless given one. */
async function pair(aOptions: Record<string, unknown>, bOptions: Record<string, unknown>) {
  const b = cluster.make({ nodeId: 'b', ...bOptions });
  const a = cluster.make({ nodeId: 'a', ...aOptions });
  await Promise.all([a.listen(), b.listen()]);
  a.addPeer('b', `127.0.0.1:${b.address().port}`);
  b.addPeer('a', `127.0.0.1:${a.address().port}`);
  const aErrors: WsPeerError[] = [];
  const bErrors: WsPeerError[] = [];
  a.on('peerError', (e) => aErrors.push(e));
  b.on('peerError', (e) => bErrors.push(e));
  await cluster.start(a);
  await cluster.start(b);
  return { a, b, aErrors, bErrors };
}

describe('peer errors without a logger', () => {
  it('a wrong secret is reported on both sides, as an event and in peerStatus()', async () => {
    const { a, b, aErrors, bErrors } = await pair({ secret: 'wrong' }, { secret: 'right' });
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', 1)]);
      return aErrors.length > 0 && bErrors.length > 0;
    }, 'peerError on both sides');
    expect(bErrors[0]).toMatchObject({
      direction: 'inbound',
      peer: 'a',
      code: 4004,
      message: 'authentication failed: wrong secret or replayed handshake',
    });
    expect(aErrors[0]).toMatchObject({ direction: 'outbound', peer: 'b', code: 4004 });
    expect(aErrors[0]?.message).toMatch(/authentication failed/);
    expect(a.peerStatus().b).toMatchObject({ connected: false, lastError: { code: 4004 } });
    expect(b.peerStatus().a?.lastError).toMatchObject({ direction: 'inbound', code: 4004 });
  });

  it('another cluster id is reported as 4002', async () => {
    const { a, aErrors, bErrors } = await pair({ clusterId: 'orders' }, { clusterId: 'billing' });
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', 1)]);
      return aErrors.length > 0;
    }, 'peerError');
    // a refuses b's HELLO (it names another cluster) before it sends anything.
    expect(aErrors[0]).toMatchObject({ direction: 'outbound', peer: 'b', code: 4002 });
    expect(aErrors[0]?.message).toMatch(/peer is in cluster "billing"/);
    expect(bErrors).toEqual([]);
    expect(a.peerStatus().b?.lastError?.code).toBe(4002);
  });

  it('peers that agree report nothing', async () => {
    const { a, b, aErrors, bErrors } = await pair({}, {});
    const inbox: unknown[] = [];
    b.on('peerError', () => inbox.push('unexpected'));
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', 1)]);
      return a.peerStatus().b?.connected === true;
    }, 'connected');
    expect([...aErrors, ...bErrors, ...inbox]).toEqual([]);
    expect(a.peerStatus().b?.lastError).toBeNull();
  });

  it('a listener that throws is logged and does not keep others from hearing', async () => {
    const bLog = recordingLogger('b');
    const b = cluster.make({ nodeId: 'b', secret: 'right', logger: bLog });
    const a = cluster.make({ nodeId: 'a', secret: 'wrong' });
    await Promise.all([a.listen(), b.listen()]);
    a.addPeer('b', `127.0.0.1:${b.address().port}`);
    b.addPeer('a', `127.0.0.1:${a.address().port}`);
    b.on('peerError', () => {
      throw new Error('listener bug');
    });
    const heard: WsPeerError[] = [];
    const off = b.on('peerError', (e) => heard.push(e));
    await cluster.start(a);
    await cluster.start(b);
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', 1)]);
      return heard.length > 0;
    }, 'peerError');
    expect(bLog.has('error', /peerError listener threw: listener bug/)).toBe(true);
    off();
    const n = heard.length;
    const refused = b.stats().handshakesRefused;
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', 1)]);
      return b.stats().handshakesRefused > refused + 2;
    }, 'more refusals');
    expect(heard.length).toBe(n);
  });
});

describe('rate-limited warnings', () => {
  it('a peer retrying with a wrong secret logs one warning per side, however often it retries', async () => {
    const aLog = recordingLogger('a');
    const bLog = recordingLogger('b');
    const { a, b, aErrors } = await pair(
      { secret: 'wrong', logger: aLog, backoffInitialMs: 5, backoffMaxMs: 10 },
      { secret: 'right', logger: bLog },
    );
    await waitFor(() => {
      a.send('b', [heartbeat('a', 'b', 1)]);
      return aErrors.length >= 10;
    }, '10 refusals');
    expect(b.stats().handshakesRefused).toBeGreaterThanOrEqual(10);
    const refusedWarnings = bLog.lines.filter(
      (l) => l.level === 'warn' && /refused connection/.test(l.msg),
    );
    const cannotConnect = aLog.lines.filter(
      (l) => l.level === 'warn' && /cannot connect to peer b/.test(l.msg),
    );
    expect(refusedWarnings).toHaveLength(1);
    expect(cannotConnect).toHaveLength(1);
  });
});

describe('error guards', () => {
  it('WsTransportError.isInstance recognizes only WsTransportErrors; `is` is its deprecated alias', () => {
    const e = new WsTransportError('Decode', 'bad frame');
    const other = new RaftError('Transport', 'something else');
    expect(WsTransportError.isInstance(e)).toBe(true);
    expect(WsTransportError.isInstance(other)).toBe(false);
    expect(WsTransportError.isInstance({ code: 'Transport', reason: 'Decode' })).toBe(false);
    expect(RaftError.isInstance(e)).toBe(true);
    expect(WsTransportError.is(e)).toBe(true);
    expect(WsTransportError.is(other)).toBe(false);
  });
});
