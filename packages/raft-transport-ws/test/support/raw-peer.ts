/**
 * A minimal peer written from README.md's "Authentication" section alone (not from src/), so
 * the tests check the documented wire protocol and can misbehave on purpose.
 */
import { createHmac, randomBytes } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';

export const PATH = '/tsraft';

function str8(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.of(b.length), b]);
}

export interface HelloFrame {
  clusterId: string;
  serverId: string;
  nonce: Buffer;
}

export function parseHello(buf: Buffer): HelloFrame {
  if (buf[0] !== 0x81 || buf[1] !== 1) throw new Error('not a HELLO v1');
  let pos = 2;
  const str = (): string => {
    const n = buf[pos]!;
    const s = buf.subarray(pos + 1, pos + 1 + n).toString('utf8');
    pos += 1 + n;
    return s;
  };
  const clusterId = str();
  const serverId = str();
  return { clusterId, serverId, nonce: Buffer.from(buf.subarray(pos, pos + 32)) };
}

export interface AuthInput {
  clusterId: string;
  clientId: string;
  serverId: string;
  lane?: 'msg' | 'snap';
  secret: string | null;
  serverNonce: Buffer;
  clientNonce?: Buffer;
}

export function mac(
  secret: string | null,
  role: 'client' | 'server',
  a: AuthInput,
  clientNonce: Buffer,
): Buffer {
  if (secret === null) return Buffer.alloc(0);
  const h = createHmac('sha256', secret);
  const field = (b: Buffer): void => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  };
  field(Buffer.from(`tsraft/ws/v1 ${role}`));
  field(Buffer.from(a.clusterId));
  field(Buffer.from(a.clientId));
  field(Buffer.from(a.serverId));
  field(Buffer.of(a.lane === 'snap' ? 1 : 0));
  field(a.serverNonce);
  field(clientNonce);
  return h.digest();
}

export function buildAuth(a: AuthInput): Buffer {
  const clientNonce = a.clientNonce ?? randomBytes(32);
  const m = mac(a.secret, 'client', a, clientNonce);
  return Buffer.concat([
    Buffer.of(0x82, 1),
    str8(a.clusterId),
    str8(a.clientId),
    str8(a.serverId),
    Buffer.of(a.lane === 'snap' ? 1 : 0),
    clientNonce,
    Buffer.of(m.length),
    m,
  ]);
}

/** A raw client connection: its HELLO, the frames received after it, and how it closed. */
export interface RawClient {
  ws: WebSocket;
  hello: HelloFrame;
  frames: Buffer[];
  closed: Promise<{ code: number; reason: string }>;
  isClosed(): boolean;
}

export async function rawConnect(
  port: number,
  options: WebSocket.ClientOptions = {},
): Promise<RawClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${PATH}`, {
    perMessageDeflate: false,
    ...options,
  });
  const frames: Buffer[] = [];
  let isClosed = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      isClosed = true;
      resolve({ code, reason: reason.toString() });
    });
  });
  ws.on('error', () => {});
  const hello = await new Promise<HelloFrame>((resolve, reject) => {
    ws.once('message', (data) => resolve(parseHello(data as Buffer)));
    ws.once('close', () => reject(new Error('closed before HELLO')));
  });
  ws.on('message', (data) => frames.push(data as Buffer));
  return { ws, hello, frames, closed, isClosed: () => isClosed };
}

/** Connect and authenticate as `clientId`; resolves once WELCOME arrived (and checks its mac). */
export async function rawAuthenticated(
  port: number,
  a: Omit<AuthInput, 'serverNonce' | 'serverId'> & { serverId?: string },
): Promise<RawClient & { auth: Buffer }> {
  const c = await rawConnect(port);
  const input: AuthInput = {
    ...a,
    serverId: a.serverId ?? c.hello.serverId,
    serverNonce: c.hello.nonce,
  };
  const clientNonce = randomBytes(32);
  const auth = buildAuth({ ...input, clientNonce });
  c.ws.send(auth);
  const deadline = Date.now() + 10_000;
  while (c.frames.length === 0) {
    if (c.isClosed()) throw new Error(`refused: ${JSON.stringify(await c.closed)}`);
    if (Date.now() > deadline) throw new Error('no WELCOME');
    await new Promise((r) => setTimeout(r, 5));
  }
  const welcome = c.frames.shift()!;
  const expected = mac(a.secret, 'server', input, clientNonce);
  if (welcome[0] !== 0x83 || welcome[1] !== 1 || !welcome.subarray(3).equals(expected))
    throw new Error('bad WELCOME');
  return { ...c, auth };
}

/**
 * A fake peer *server* that authenticates clients as node `serverId` (any secret check is
 * skipped: it just proves `secret`), then optionally stops reading its sockets (a slow reader).
 */
export async function fakePeerServer(opts: {
  clusterId: string;
  serverId: string;
  secret: string | null;
  pauseAfterAuth: boolean;
}): Promise<{ port: number; close(): Promise<void>; authenticated: number }> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    path: PATH,
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const state = { authenticated: 0 };
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    const serverNonce = randomBytes(32);
    ws.send(
      Buffer.concat([Buffer.of(0x81, 1), str8(opts.clusterId), str8(opts.serverId), serverNonce]),
    );
    ws.once('message', (data) => {
      const buf = data as Buffer;
      let pos = 2;
      const str = (): string => {
        const n = buf[pos]!;
        const s = buf.subarray(pos + 1, pos + 1 + n).toString('utf8');
        pos += 1 + n;
        return s;
      };
      const clusterId = str();
      const clientId = str();
      const serverId = str();
      const lane = buf[pos++] === 1 ? 'snap' : 'msg';
      const clientNonce = Buffer.from(buf.subarray(pos, pos + 32));
      const m = mac(
        opts.secret,
        'server',
        { clusterId, clientId, serverId, lane, secret: opts.secret, serverNonce },
        clientNonce,
      );
      ws.send(Buffer.concat([Buffer.of(0x83, 1, m.length), m]), () => {
        state.authenticated++;
        if (opts.pauseAfterAuth) req.socket.pause();
      });
    });
  });
  const port = (wss.address() as { port: number }).port;
  return {
    port,
    get authenticated() {
      return state.authenticated;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
