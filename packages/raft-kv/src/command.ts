/**
 * The replicated commands and their compact binary encoding (the data of a Normal log entry).
 *
 * Layout (version 1): `version u8 | flags u8 | time uvarint | [clientId str | seq uvarint |
 * [ack uvarint]] | key str | (put: value str) (cas: [from str] to str)`. `flags` holds the op in
 * its low 2 bits (1 put, 2 delete, 3 cas), bit 2 = session present, bit 3 = ack present, bit 4 =
 * cas `from` present (absent means "key must be absent"). Trailing bytes are an error.
 */
import { Buffer } from 'node:buffer';
import { RaftError } from 'raft-core';
import { ByteReader, ByteWriter } from './bytes.js';
import { checkKey, checkValue, invalid, isWellFormedString } from './errors.js';

/** A write command. Keys and values are JavaScript strings (UTF-8 on the wire). */
export type KvCommand =
  | {
      /** Set `key` to `value`. */
      op: 'put';
      /** The key. */
      key: string;
      /** The new value. */
      value: string;
    }
  | {
      /** Remove `key`. */
      op: 'delete';
      /** The key. */
      key: string;
    }
  /** Swap `key` to `to` if its value is `from` (`from: null` = the key must be absent). */
  | {
      /** Compare-and-swap. */
      op: 'cas';
      /** The key. */
      key: string;
      /** The value it must have (null: it must be absent). */
      from: string | null;
      /** The value it gets if the comparison holds. */
      to: string;
    };

/**
 * A client session (thesis §6.3): `clientId` names the client, `seq` numbers its commands so a
 * retry is recognised and answered without being applied again.
 */
export interface Session {
  /** The client's id, stable across its retries. */
  clientId: string;
  /** The command's number within the session; a retry reuses it. */
  seq: number;
  /** All seq < ack were answered to the client: results below may be discarded. */
  ack?: number;
}

/** What travels with every command besides the command itself. */
export interface CommandMeta {
  /** Milliseconds since the epoch on the proposing leader's clock (sessions expire by it). */
  time: number;
  /** The client session, for exactly-once application (none: applied every time). */
  session?: Session;
}

/** The command encoding's version byte. */
export const COMMAND_VERSION = 1;
/** Bound on a session's `clientId`, in UTF-8 bytes. */
export const MAX_CLIENT_ID_BYTES = 256;

const OP_CODE = { put: 1, delete: 2, cas: 3 } as const;
const F_SESSION = 4;
const F_ACK = 8;
const F_FROM = 16;

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Validates a session; throws `RaftError('InvalidArgument')`. */
export function checkSession(s: unknown): asserts s is Session {
  const o = s as Partial<Session> | null;
  if (typeof o !== 'object' || o === null) invalid('session must be an object');
  if (!isWellFormedString(o.clientId) || o.clientId.length === 0) {
    invalid('session.clientId must be a non-empty string without lone surrogates');
  }
  if (Buffer.byteLength(o.clientId) > MAX_CLIENT_ID_BYTES) {
    invalid(`session.clientId is longer than ${MAX_CLIENT_ID_BYTES} bytes`);
  }
  if (!isUint(o.seq)) invalid('session.seq must be a non-negative safe integer');
  if (o.ack !== undefined && (!isUint(o.ack) || o.ack > o.seq)) {
    invalid('session.ack must be a non-negative safe integer ≤ seq');
  }
}

/** Validates a command's shape (not its size: that is `KvStore`'s limit). */
export function checkCommand(cmd: unknown): asserts cmd is KvCommand {
  const c = cmd as Partial<Record<string, unknown>> | null;
  if (typeof c !== 'object' || c === null) invalid('command must be an object');
  checkKey(c.key);
  switch (c.op) {
    case 'put':
      checkValue(c.value);
      return;
    case 'delete':
      return;
    case 'cas':
      if (c.from !== null) checkValue(c.from, 'from');
      checkValue(c.to, 'to');
      return;
    default:
      invalid(`unknown op ${String(c.op)}`);
  }
}

/**
 * Encodes a command and its metadata as a log entry's data.
 * Throws `RaftError('InvalidArgument')` on an invalid command, session or time.
 */
export function encodeKvCommand(cmd: KvCommand, meta: CommandMeta): Uint8Array {
  checkCommand(cmd);
  if (typeof meta !== 'object' || meta === null || !isUint(meta.time)) {
    invalid('meta.time must be a non-negative safe integer (ms since the epoch)');
  }
  const s = meta.session;
  if (s !== undefined) checkSession(s);
  let flags: number = OP_CODE[cmd.op];
  if (s !== undefined) flags |= F_SESSION;
  if (s?.ack !== undefined) flags |= F_ACK;
  if (cmd.op === 'cas' && cmd.from !== null) flags |= F_FROM;
  const w = new ByteWriter(32 + cmd.key.length * 3 + (cmd.op === 'put' ? cmd.value.length * 3 : 0));
  w.u8(COMMAND_VERSION);
  w.u8(flags);
  w.uvarint(meta.time);
  if (s !== undefined) {
    w.str(s.clientId);
    w.uvarint(s.seq);
    if (s.ack !== undefined) w.uvarint(s.ack);
  }
  w.str(cmd.key);
  if (cmd.op === 'put') w.str(cmd.value);
  else if (cmd.op === 'cas') {
    if (cmd.from !== null) w.str(cmd.from);
    w.str(cmd.to);
  }
  const b = w.bytes();
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function garbage(why: string): never {
  throw new RaftError('InvalidArgument', `malformed kv command: ${why}`);
}

/** Decodes a log entry's data; throws `RaftError('InvalidArgument')` on anything malformed. */
export function decodeKvCommand(data: Uint8Array): {
  /** The command. */
  cmd: KvCommand;
  /** Its timestamp and session. */
  meta: CommandMeta;
} {
  if (!(data instanceof Uint8Array)) garbage('not bytes');
  const r = new ByteReader(data, garbage);
  const version = r.u8();
  if (version !== COMMAND_VERSION) garbage(`unknown version ${version}`);
  const flags = r.u8();
  if (flags & ~(3 | F_SESSION | F_ACK | F_FROM)) garbage('unknown flags');
  const op = flags & 3;
  const time = r.uvarint();
  let session: Session | undefined;
  if (flags & F_SESSION) {
    const clientId = r.str(true);
    const seq = r.uvarint();
    session = { clientId, seq };
    if (flags & F_ACK) session.ack = r.uvarint();
  } else if (flags & F_ACK) garbage('ack without session');
  if (flags & F_FROM && op !== OP_CODE.cas) garbage('from on a non-cas command');
  const key = r.str(true);
  let cmd: KvCommand;
  if (op === OP_CODE.put) cmd = { op: 'put', key, value: r.str(true) };
  else if (op === OP_CODE.delete) cmd = { op: 'delete', key };
  else if (op === OP_CODE.cas) {
    const from = flags & F_FROM ? r.str(true) : null;
    cmd = { op: 'cas', key, from, to: r.str(true) };
  } else garbage('unknown op');
  if (r.remaining !== 0) garbage('trailing bytes');
  try {
    checkCommand(cmd);
    if (session !== undefined) checkSession(session);
  } catch (e) {
    garbage(e instanceof Error ? e.message : String(e));
  }
  return { cmd, meta: session === undefined ? { time } : { time, session } };
}
