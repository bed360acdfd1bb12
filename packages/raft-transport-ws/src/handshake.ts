/**
 * The connection handshake (README.md "Authentication"): a challenge–response over the first
 * three binary frames of every connection, before any Raft message.
 *
 *   server → client  HELLO    [0x81][ver][str8 clusterId][str8 serverId][serverNonce:32]
 *   client → server  AUTH     [0x82][ver][str8 clusterId][str8 clientId][str8 serverId]
 *                              [lane:u8][clientNonce:32][u8 macLen][mac]
 *   server → client  WELCOME  [0x83][ver][u8 macLen][mac]
 *
 * `str8` is a one-byte length + UTF-8 (ids are at most 255 bytes). With a secret, the client's
 * mac is HMAC-SHA256(secret, transcript("tsraft/ws/v1 client")) and the server's is the same over
 * "tsraft/ws/v1 server"; the transcript binds cluster, both ids, the lane and both nonces. Without
 * a secret, macs are empty. The server's nonce is fresh per connection, so a recorded AUTH never
 * verifies again.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const HANDSHAKE_VERSION = 1;
export const NONCE_BYTES = 32;
const HELLO = 0x81;
const AUTH = 0x82;
const WELCOME = 0x83;

/** A connection carries either ordinary messages or snapshot chunks (so they never block each other). */
export type Lane = 'msg' | 'snap';
const LANE_CODE: Record<Lane, number> = { msg: 0, snap: 1 };

/** WebSocket close codes used by this transport (4000–4999 are application-defined). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  InvalidPayload: 1007,
  HandshakeMalformed: 4000,
  UnsupportedVersion: 4001,
  WrongCluster: 4002,
  UnknownNode: 4003,
  AuthFailed: 4004,
  WrongNode: 4005,
  HandshakeTimeout: 4006,
  Replaced: 4007,
} as const;

/** A WebSocket close reason: printable ASCII, short enough for a close frame (≤ 123 bytes). */
export function closeReason(why: string): string {
  return why.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}

/** A handshake frame that cannot be parsed. */
export class HandshakeError extends Error {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}

export interface Hello {
  readonly clusterId: string;
  readonly serverId: string;
  readonly nonce: Uint8Array;
}

export interface Auth {
  readonly clusterId: string;
  readonly clientId: string;
  readonly serverId: string;
  readonly lane: Lane;
  readonly nonce: Uint8Array;
  readonly mac: Uint8Array;
}

/** Everything both macs are computed over. */
export interface Transcript {
  readonly clusterId: string;
  readonly clientId: string;
  readonly serverId: string;
  readonly lane: Lane;
  readonly serverNonce: Uint8Array;
  readonly clientNonce: Uint8Array;
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

function str8(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 255) throw new RangeError(`id longer than 255 bytes: ${s.slice(0, 32)}…`);
  return Buffer.concat([Buffer.of(b.length), b]);
}

export function encodeHello(h: Hello): Buffer {
  return Buffer.concat([
    Buffer.of(HELLO, HANDSHAKE_VERSION),
    str8(h.clusterId),
    str8(h.serverId),
    h.nonce,
  ]);
}

export function encodeAuth(a: Auth): Buffer {
  return Buffer.concat([
    Buffer.of(AUTH, HANDSHAKE_VERSION),
    str8(a.clusterId),
    str8(a.clientId),
    str8(a.serverId),
    Buffer.of(LANE_CODE[a.lane]),
    a.nonce,
    Buffer.of(a.mac.length),
    a.mac,
  ]);
}

export function encodeWelcome(mac: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(WELCOME, HANDSHAKE_VERSION, mac.length), mac]);
}

class Cursor {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  byte(): number {
    if (this.pos >= this.buf.length)
      throw new HandshakeError(CloseCode.HandshakeMalformed, 'truncated handshake');
    return this.buf[this.pos++]!;
  }
  take(n: number): Uint8Array {
    if (this.pos + n > this.buf.length)
      throw new HandshakeError(CloseCode.HandshakeMalformed, 'truncated handshake');
    const out = Uint8Array.prototype.slice.call(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  str8(): string {
    const bytes = this.take(this.byte());
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new HandshakeError(CloseCode.HandshakeMalformed, 'invalid UTF-8 in handshake');
    }
  }
  mac(): Uint8Array {
    const n = this.byte();
    if (n !== 0 && n !== 32)
      throw new HandshakeError(CloseCode.HandshakeMalformed, `mac length ${n}`);
    return this.take(n);
  }
  header(kind: number, name: string): void {
    if (this.byte() !== kind)
      throw new HandshakeError(CloseCode.HandshakeMalformed, `expected ${name}`);
    const version = this.byte();
    if (version !== HANDSHAKE_VERSION) {
      throw new HandshakeError(
        CloseCode.UnsupportedVersion,
        `unsupported handshake version ${version}`,
      );
    }
  }
  end(): void {
    if (this.pos !== this.buf.length)
      throw new HandshakeError(CloseCode.HandshakeMalformed, 'trailing bytes');
  }
}

export function decodeHello(buf: Uint8Array): Hello {
  const c = new Cursor(buf);
  c.header(HELLO, 'HELLO');
  const hello = { clusterId: c.str8(), serverId: c.str8(), nonce: c.take(NONCE_BYTES) };
  c.end();
  return hello;
}

export function decodeAuth(buf: Uint8Array): Auth {
  const c = new Cursor(buf);
  c.header(AUTH, 'AUTH');
  const clusterId = c.str8();
  const clientId = c.str8();
  const serverId = c.str8();
  const laneCode = c.byte();
  if (laneCode > 1) throw new HandshakeError(CloseCode.HandshakeMalformed, `lane ${laneCode}`);
  const lane: Lane = laneCode === 0 ? 'msg' : 'snap';
  const auth = { clusterId, clientId, serverId, lane, nonce: c.take(NONCE_BYTES), mac: c.mac() };
  c.end();
  return auth;
}

export function decodeWelcome(buf: Uint8Array): Uint8Array {
  const c = new Cursor(buf);
  c.header(WELCOME, 'WELCOME');
  const mac = c.mac();
  c.end();
  return mac;
}

/**
 * `proof` is the mac one side sends: HMAC-SHA256 over a role label and the length-prefixed
 * transcript fields, or empty without a secret.
 */
export function proof(
  secret: Uint8Array | null,
  role: 'client' | 'server',
  t: Transcript,
): Uint8Array {
  if (secret === null) return new Uint8Array(0);
  const h = createHmac('sha256', secret);
  const field = (b: Uint8Array): void => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len);
    h.update(b);
  };
  field(Buffer.from(`tsraft/ws/v1 ${role}`, 'utf8'));
  field(Buffer.from(t.clusterId, 'utf8'));
  field(Buffer.from(t.clientId, 'utf8'));
  field(Buffer.from(t.serverId, 'utf8'));
  field(Buffer.of(LANE_CODE[t.lane]));
  field(t.serverNonce);
  field(t.clientNonce);
  return h.digest();
}

/** Constant-time mac comparison; without a secret both macs must be empty. */
export function verifyProof(expected: Uint8Array, got: Uint8Array): boolean {
  if (expected.length !== got.length) return false;
  if (expected.length === 0) return true;
  return timingSafeEqual(expected, got);
}
