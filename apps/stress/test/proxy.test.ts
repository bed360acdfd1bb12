import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkProxy } from '../src/chaos/proxy.js';

// An echo server behind a LinkProxy: what the client writes goes `forward`, the echo comes
// back `backward`.
let server: Server | undefined;
let proxy: LinkProxy | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await proxy?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  proxy = undefined;
});

async function setup(): Promise<LinkProxy> {
  server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  proxy = new LinkProxy('a', 'b', typeof a === 'object' && a !== null ? a.port : 0);
  await proxy.listen();
  return proxy;
}

function connect(port: number): Promise<{ s: Socket; got: () => string; closed: () => boolean }> {
  return new Promise((res, rej) => {
    let data = '';
    let closed = false;
    const s = createConnection({ host: '127.0.0.1', port }, () =>
      res({ s, got: () => data, closed: () => closed }),
    );
    sockets.push(s);
    s.on('data', (b) => {
      data += b.toString();
    });
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
    });
    s.once('error', rej);
  });
}

const until = async (f: () => boolean, ms = 3000): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return f();
};

describe('LinkProxy', () => {
  it('relays both ways when healthy', async () => {
    const p = await setup();
    const c = await connect(p.port);
    c.s.write('hello');
    expect(await until(() => c.got() === 'hello')).toBe(true);
  });

  it('delays a direction and keeps the order', async () => {
    const p = await setup();
    p.set('forward', { mode: 'ok', delayMs: 150, jitterMs: 50 });
    const c = await connect(p.port);
    const t0 = performance.now();
    for (const ch of 'abcdef') c.s.write(ch);
    expect(await until(() => c.got() === 'abcdef')).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('drops one direction, then resets the tainted connection on heal', async () => {
    const p = await setup();
    const c = await connect(p.port);
    p.set('backward', { mode: 'drop', delayMs: 0, jitterMs: 0 });
    c.s.write('lost');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.got()).toBe('');
    expect(c.closed()).toBe(false);
    p.heal();
    expect(await until(() => c.closed())).toBe(true);
    const c2 = await connect(p.port);
    c2.s.write('back');
    expect(await until(() => c2.got() === 'back')).toBe(true);
  });

  it('cuts: resets open connections and refuses new ones until healed', async () => {
    const p = await setup();
    const c = await connect(p.port);
    p.set('forward', { mode: 'cut', delayMs: 0, jitterMs: 0 });
    expect(await until(() => c.closed())).toBe(true);
    // A new connection is reset: during the connect, or right after it.
    const refused = await connect(p.port).then(
      (c2) => until(() => c2.closed()),
      (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET',
    );
    expect(refused).toBe(true);
    p.heal();
    const c3 = await connect(p.port);
    c3.s.write('ok');
    expect(await until(() => c3.got() === 'ok')).toBe(true);
  });
});
