import { describe, expect, it } from 'vitest';
import { parseAddress, WsTransport } from '../src/index.js';
import { heartbeat, recordingLogger, waitFor } from './support/helpers.js';

describe('parseAddress', () => {
  it.each([
    ['127.0.0.1:7000', { host: '127.0.0.1', port: 7000 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['node-1.example.com:65535', { host: 'node-1.example.com', port: 65535 }],
    [':8080', { host: null, port: 8080 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
    ['[fe80::1:2]:1', { host: 'fe80::1:2', port: 1 }],
  ])('%s', (address, expected) => {
    expect(parseAddress(address)).toEqual(expected);
  });

  it.each([
    ['no port', '127.0.0.1'],
    ['empty', ''],
    ['port out of range', '127.0.0.1:65536'],
    ['non-numeric port', 'host:http'],
    ['negative port', 'host:-1'],
    ['IPv6 without brackets', '::1:9000'],
    ['unclosed bracket', '[::1:9000'],
    ['not an IPv6 literal', '[nope]:9000'],
    ['spaces', 'my host:1'],
    ['a URL', 'ws://host:1'],
  ])('rejects %s', (_what, address) => {
    expect(() => parseAddress(address)).toThrow(
      expect.objectContaining({
        name: 'WsTransportError',
        code: 'Transport',
        reason: 'InvalidAddress',
      }),
    );
  });
});

describe('WsTransport options', () => {
  const ok = { nodeId: 'a', clusterId: 'c', listen: '127.0.0.1:0' };
  it.each([
    ['an invalid listen address', { ...ok, listen: 'nope' }, 'InvalidAddress'],
    ['an invalid peer address', { ...ok, peers: { b: '::1:1' } }, 'InvalidAddress'],
    ['an empty node id', { ...ok, nodeId: '' }, 'InvalidOptions'],
    ['a node id over 255 bytes', { ...ok, nodeId: 'é'.repeat(128) }, 'InvalidOptions'],
    ['an empty secret', { ...ok, secret: '' }, 'InvalidOptions'],
    ['a zero frame limit', { ...ok, maxFrameBytes: 0 }, 'InvalidOptions'],
  ])('rejects %s', (_what, options, reason) => {
    expect(() => new WsTransport(options)).toThrow(
      expect.objectContaining({ name: 'WsTransportError', reason }),
    );
  });

  it('accepts peers as a Map or a record, and ignores its own entry', () => {
    const t = new WsTransport({
      ...ok,
      peers: new Map([
        ['a', ':1'],
        ['b', '[::1]:2'],
      ]),
    });
    expect(t.stats().queuedMessages).toBe(0);
    expect(() => new WsTransport({ ...ok, peers: { a: ':1', b: 'localhost:2' } })).not.toThrow();
  });

  it('address() throws before listening; start() after stop() rejects', async () => {
    const t = new WsTransport(ok);
    expect(() => t.address()).toThrow(expect.objectContaining({ reason: 'Stopped' }));
    await t.stop();
    await expect(t.start(() => {})).rejects.toMatchObject({ reason: 'Stopped' });
  });

  it('stop() while start() is still binding releases the port and every timer', async () => {
    const servers = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = servers();
    const t = new WsTransport(ok);
    const starting = t.start(() => {});
    await t.stop();
    await starting;
    // The handle list lags the server's close callback by a tick: poll (bounded).
    await waitFor(() => servers() === before, 'the server handle to close');
    expect(t.stats().timers).toBe(0);
    expect(() => t.address()).toThrow();
  });

  it('unusable TLS material: start() rejects with InvalidOptions, send() still never throws', async () => {
    const tls = { cert: 'not a certificate', key: 'not a key', ca: 'not a CA' };
    const log = recordingLogger('a');
    const t = new WsTransport({ ...ok, tls, logger: log, peers: { b: '127.0.0.1:1' } });
    await expect(t.start(() => {})).rejects.toMatchObject({ reason: 'InvalidOptions' });
    expect(() => t.send('b', [heartbeat('a', 'b', 1)])).not.toThrow();
    await waitFor(() => t.stats().connectFailures >= 1, 'the failed dial to be counted');
    await t.stop();
    expect(t.stats().timers).toBe(0);
  });

  it('listen() on a port in use rejects with a typed Listen error', async () => {
    const first = new WsTransport(ok);
    const { port } = await first.listen();
    const second = new WsTransport({ ...ok, listen: `127.0.0.1:${port}` });
    await expect(second.listen()).rejects.toMatchObject({
      name: 'WsTransportError',
      reason: 'Listen',
    });
    await Promise.all([first.stop(), second.stop()]);
  });
});
