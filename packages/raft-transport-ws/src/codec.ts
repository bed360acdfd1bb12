/**
 * The wire codec: a hand-written binary layout for every Raft message, versioned by its first
 * byte. See README.md "Wire format" for the layout; `CODEC_VERSION` changes whenever it does.
 *
 * Primitives: `uint` is an unsigned LEB128 varint of a safe integer (canonical: at most 8 bytes,
 * no trailing zero byte); `bool` is one byte 0 or 1; `str` is `uint` byte length + UTF-8;
 * `bytes` is `uint` length + raw bytes.
 */
import type { ConfState, Entry, Message, SnapshotMeta } from 'raft-core';
import { WsTransportError } from './errors.js';

/** `CODEC_VERSION` is the first byte of every message frame. */
export const CODEC_VERSION = 1;

/** Wire codes of message types. Pinned here, never derived from `MESSAGE_TYPES`' order. */
const CODE = {
  MsgApp: 1,
  MsgAppResp: 2,
  MsgVote: 3,
  MsgPreVote: 4,
  MsgVoteResp: 5,
  MsgPreVoteResp: 6,
  MsgHeartbeat: 7,
  MsgHeartbeatResp: 8,
  MsgSnap: 9,
  MsgSnapResp: 10,
  MsgTimeoutNow: 11,
  MsgReadIndex: 12,
  MsgReadIndexResp: 13,
} as const satisfies Record<Message['type'], number>;

/** Smallest possible encoded message: type + empty from + empty to + term. */
const MIN_MESSAGE_BYTES = 4;
/** Smallest possible encoded entry: index + term + type + empty data. */
const MIN_ENTRY_BYTES = 4;
/** Upper bound of a frame header (version byte + count varint). */
export const FRAME_HEADER_MAX_BYTES = 1 + 8;

const LONE_SURROGATE = /\p{Surrogate}/u;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function encodeError(message: string): WsTransportError {
  return new WsTransportError('Encode', `cannot encode message: ${message}`);
}

function decodeError(message: string): WsTransportError {
  return new WsTransportError('Decode', `malformed frame: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Sizes (and validation): every value is checked here, so encoding never meets a bad one.

function uintSize(n: number, field: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw encodeError(`${field} = ${n} is not a safe uint`);
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  if (n < 2 ** 35) return 5;
  if (n < 2 ** 42) return 6;
  if (n < 2 ** 49) return 7;
  return 8;
}

function boolSize(b: boolean, field: string): number {
  if (b !== true && b !== false) throw encodeError(`${field} is not a boolean`);
  return 1;
}

/** Short strings (node ids, mostly) are UTF-8 encoded once and kept; cleared when it fills. */
const strCache = new Map<string, Uint8Array>();
const STR_CACHE_MAX_ENTRIES = 1024;
const STR_CACHE_MAX_LENGTH = 64;

function strBytes(s: string, field: string): Uint8Array {
  let bytes = strCache.get(s);
  if (bytes !== undefined) return bytes;
  if (typeof s !== 'string') throw encodeError(`${field} is not a string`);
  // NB: UTF-8 cannot carry a lone surrogate; encoding would silently replace it with U+FFFD.
  if (LONE_SURROGATE.test(s)) throw encodeError(`${field} is not a well-formed string`);
  bytes = Buffer.from(s, 'utf8');
  if (s.length <= STR_CACHE_MAX_LENGTH) {
    if (strCache.size >= STR_CACHE_MAX_ENTRIES) strCache.clear();
    strCache.set(s, bytes);
  }
  return bytes;
}

function strSize(s: string, field: string): number {
  const n = strBytes(s, field).length;
  return uintSize(n, field) + n;
}

function bytesSize(b: Uint8Array, field: string): number {
  if (!(b instanceof Uint8Array)) throw encodeError(`${field} is not a Uint8Array`);
  return uintSize(b.length, field) + b.length;
}

function listSize(list: readonly string[], field: string): number {
  if (!Array.isArray(list)) throw encodeError(`${field} is not an array`);
  let n = uintSize(list.length, field);
  for (const s of list) n += strSize(s, field);
  return n;
}

function confStateSize(c: ConfState): number {
  return (
    listSize(c.voters, 'voters') +
    listSize(c.learners, 'learners') +
    listSize(c.votersOutgoing, 'votersOutgoing') +
    listSize(c.learnersNext, 'learnersNext') +
    boolSize(c.autoLeave, 'autoLeave')
  );
}

function entrySize(e: Entry): number {
  if (e.type !== 0 && e.type !== 1) throw encodeError(`entry type ${String(e.type)}`);
  return (
    uintSize(e.index, 'entry.index') +
    uintSize(e.term, 'entry.term') +
    1 +
    bytesSize(e.data, 'entry.data')
  );
}

/**
 * `messageSize` is the exact encoded size of one message inside a frame. It validates every
 * field and throws `WsTransportError('Encode')` for a value the codec cannot carry.
 */
export function messageSize(m: Message): number {
  let n = 1 + strSize(m.from, 'from') + strSize(m.to, 'to') + uintSize(m.term, 'term');
  switch (m.type) {
    case 'MsgApp': {
      n +=
        uintSize(m.index, 'index') + uintSize(m.logTerm, 'logTerm') + uintSize(m.commit, 'commit');
      if (!Array.isArray(m.entries)) throw encodeError('entries is not an array');
      n += uintSize(m.entries.length, 'entries.length');
      for (const e of m.entries) n += entrySize(e);
      return n;
    }
    case 'MsgAppResp':
      return (
        n +
        uintSize(m.index, 'index') +
        boolSize(m.reject, 'reject') +
        uintSize(m.hintIndex, 'hintIndex') +
        uintSize(m.hintTerm, 'hintTerm')
      );
    case 'MsgVote':
    case 'MsgPreVote':
      return (
        n +
        uintSize(m.index, 'index') +
        uintSize(m.logTerm, 'logTerm') +
        boolSize(m.transfer, 'transfer')
      );
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return n + boolSize(m.reject, 'reject');
    case 'MsgHeartbeat':
      return n + uintSize(m.commit, 'commit') + uintSize(m.context, 'context');
    case 'MsgHeartbeatResp':
    case 'MsgReadIndex':
      return n + uintSize(m.context, 'context');
    case 'MsgSnap':
      return (
        n +
        uintSize(m.meta.index, 'meta.index') +
        uintSize(m.meta.term, 'meta.term') +
        confStateSize(m.meta.confState) +
        uintSize(m.offset, 'offset') +
        uintSize(m.totalBytes, 'totalBytes') +
        bytesSize(m.data, 'data') +
        boolSize(m.done, 'done')
      );
    case 'MsgSnapResp':
      return (
        n + uintSize(m.index, 'index') + uintSize(m.offset, 'offset') + boolSize(m.reject, 'reject')
      );
    case 'MsgTimeoutNow':
      return n;
    case 'MsgReadIndexResp':
      return (
        n +
        uintSize(m.context, 'context') +
        uintSize(m.index, 'index') +
        boolSize(m.reject, 'reject')
      );
    default:
      throw encodeError(`unknown message type ${String((m as { type?: unknown }).type)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing. Sizes were validated by messageSize; the writer trusts them.

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  uint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (n >= 0x80000000) {
      buf[pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  bool(b: boolean): void {
    this.buf[this.pos++] = b ? 1 : 0;
  }

  bytes(b: Uint8Array): void {
    this.uint(b.length);
    const len = b.length;
    if (len <= 32) {
      // NB: for tiny arrays a loop beats TypedArray#set's call overhead.
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < len; i++) buf[pos++] = b[i]!;
      this.pos = pos;
    } else {
      this.buf.set(b, this.pos);
      this.pos += len;
    }
  }

  str(s: string): void {
    this.bytes(strBytes(s, 'string'));
  }

  list(list: readonly string[]): void {
    this.uint(list.length);
    for (const s of list) this.str(s);
  }

  message(m: Message): void {
    this.buf[this.pos++] = CODE[m.type];
    this.str(m.from);
    this.str(m.to);
    this.uint(m.term);
    switch (m.type) {
      case 'MsgApp':
        this.uint(m.index);
        this.uint(m.logTerm);
        this.uint(m.commit);
        this.uint(m.entries.length);
        for (const e of m.entries) {
          this.uint(e.index);
          this.uint(e.term);
          this.buf[this.pos++] = e.type;
          this.bytes(e.data);
        }
        return;
      case 'MsgAppResp':
        this.uint(m.index);
        this.bool(m.reject);
        this.uint(m.hintIndex);
        this.uint(m.hintTerm);
        return;
      case 'MsgVote':
      case 'MsgPreVote':
        this.uint(m.index);
        this.uint(m.logTerm);
        this.bool(m.transfer);
        return;
      case 'MsgVoteResp':
      case 'MsgPreVoteResp':
        this.bool(m.reject);
        return;
      case 'MsgHeartbeat':
        this.uint(m.commit);
        this.uint(m.context);
        return;
      case 'MsgHeartbeatResp':
      case 'MsgReadIndex':
        this.uint(m.context);
        return;
      case 'MsgSnap': {
        const c = m.meta.confState;
        this.uint(m.meta.index);
        this.uint(m.meta.term);
        this.list(c.voters);
        this.list(c.learners);
        this.list(c.votersOutgoing);
        this.list(c.learnersNext);
        this.bool(c.autoLeave);
        this.uint(m.offset);
        this.uint(m.totalBytes);
        this.bytes(m.data);
        this.bool(m.done);
        return;
      }
      case 'MsgSnapResp':
        this.uint(m.index);
        this.uint(m.offset);
        this.bool(m.reject);
        return;
      case 'MsgTimeoutNow':
        return;
      case 'MsgReadIndexResp':
        this.uint(m.context);
        this.uint(m.index);
        this.bool(m.reject);
        return;
    }
  }
}

/**
 * `encodeFrame` encodes `messages[start, start + count)` whose {@link messageSize}s sum to
 * `bodyBytes` into one frame. Used by the transport, which sized (and validated) each message
 * when it was queued.
 */
export function encodeFrame(
  messages: readonly Message[],
  start: number,
  count: number,
  bodyBytes: number,
): Buffer {
  const headerBytes = 1 + uintSize(count, 'count');
  const buf = Buffer.allocUnsafe(headerBytes + bodyBytes);
  const w = new Writer(buf);
  buf[w.pos++] = CODEC_VERSION;
  w.uint(count);
  for (let i = start; i < start + count; i++) w.message(messages[i]!);
  // Invariant: the sizes computed at enqueue time still hold (messages are immutable).
  if (w.pos !== buf.length) throw encodeError('a message changed after it was sized');
  return buf;
}

/**
 * `encodeMessages` encodes a batch of messages as one versioned binary frame.
 * Throws `WsTransportError` (reason `'Encode'`) if a field cannot be carried: numbers must be
 * safe non-negative integers, strings well-formed, byte fields `Uint8Array`s.
 */
export function encodeMessages(messages: readonly Message[]): Uint8Array {
  let body = 0;
  for (const m of messages) body += messageSize(m);
  return encodeFrame(messages, 0, messages.length, body);
}

// ---------------------------------------------------------------------------------------------
// Reading. Every read is bounds-checked and every count is bounded by the bytes left, so a
// hostile frame can neither crash the decoder nor make it allocate more than the frame's size.

class Reader {
  pos: number;
  /** Lazily made private copy of the frame; byte fields are views into it. */
  private owned: Uint8Array | null = null;

  constructor(
    readonly buf: Uint8Array,
    start: number,
  ) {
    this.pos = start;
  }

  get left(): number {
    return this.buf.length - this.pos;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw decodeError('truncated');
    return this.buf[this.pos++]!;
  }

  uint(): number {
    const buf = this.buf;
    if (this.pos >= buf.length) throw decodeError('truncated');
    let b = buf[this.pos++]!;
    if (b < 0x80) return b;
    let result = b & 0x7f;
    let mul = 0x80;
    for (let i = 1; i < 8; i++) {
      if (this.pos >= buf.length) throw decodeError('truncated varint');
      b = buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (b === 0) throw decodeError('non-canonical varint');
        if (result > Number.MAX_SAFE_INTEGER) throw decodeError('varint exceeds 2^53 - 1');
        return result;
      }
      mul *= 0x80;
    }
    throw decodeError('varint longer than 8 bytes');
  }

  bool(): boolean {
    const b = this.byte();
    if (b > 1) throw decodeError(`boolean byte ${b}`);
    return b === 1;
  }

  /** A count of items each at least `minItemBytes` long, bounded by the bytes left. */
  count(minItemBytes: number): number {
    const n = this.uint();
    if (n * minItemBytes > this.left) throw decodeError(`count ${n} exceeds the frame`);
    return n;
  }

  bytes(): Uint8Array {
    const len = this.uint();
    if (len > this.left) throw decodeError('byte field exceeds the frame');
    const start = this.pos;
    this.pos += len;
    if (len === 0) return new Uint8Array(0);
    // NB: one copy of the whole frame, then views: a decoded entry never aliases the caller's
    // buffer (which ws may share with other frames), and small entries cost no allocation each.
    // The copy lives as long as any entry from this frame does.
    // (`new Uint8Array(buf)` copies; `Buffer#slice` would not.)
    this.owned ??= new Uint8Array(this.buf);
    return this.owned.subarray(start, start + len);
  }

  str(): string {
    const len = this.uint();
    if (len > this.left) throw decodeError('string exceeds the frame');
    const buf = this.buf;
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    if (len <= 24) {
      let s = '';
      let i = start;
      for (; i < end; i++) {
        const c = buf[i]!;
        if (c >= 0x80) break;
        s += String.fromCharCode(c);
      }
      if (i === end) return s;
    }
    try {
      return utf8Decoder.decode(buf.subarray(start, end));
    } catch (cause) {
      throw new WsTransportError('Decode', 'malformed frame: invalid UTF-8', { cause });
    }
  }

  list(): string[] {
    const n = this.count(1);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.str());
    return out;
  }

  snapshotMeta(): SnapshotMeta {
    const index = this.uint();
    const term = this.uint();
    const voters = this.list();
    const learners = this.list();
    const votersOutgoing = this.list();
    const learnersNext = this.list();
    const autoLeave = this.bool();
    return {
      index,
      term,
      confState: { voters, learners, votersOutgoing, learnersNext, autoLeave },
    };
  }

  message(): Message {
    const code = this.byte();
    const from = this.str();
    const to = this.str();
    const term = this.uint();
    switch (code) {
      case CODE.MsgApp: {
        const index = this.uint();
        const logTerm = this.uint();
        const commit = this.uint();
        const n = this.count(MIN_ENTRY_BYTES);
        const entries: Entry[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const eIndex = this.uint();
          const eTerm = this.uint();
          const type = this.byte();
          if (type !== 0 && type !== 1) throw decodeError(`entry type ${type}`);
          entries[i] = { index: eIndex, term: eTerm, type, data: this.bytes() };
        }
        return { type: 'MsgApp', from, to, term, index, logTerm, entries, commit };
      }
      case CODE.MsgAppResp: {
        const index = this.uint();
        const reject = this.bool();
        const hintIndex = this.uint();
        const hintTerm = this.uint();
        return { type: 'MsgAppResp', from, to, term, index, reject, hintIndex, hintTerm };
      }
      case CODE.MsgVote:
      case CODE.MsgPreVote: {
        const index = this.uint();
        const logTerm = this.uint();
        const transfer = this.bool();
        const type = code === CODE.MsgVote ? 'MsgVote' : 'MsgPreVote';
        return { type, from, to, term, index, logTerm, transfer };
      }
      case CODE.MsgVoteResp:
      case CODE.MsgPreVoteResp: {
        const type = code === CODE.MsgVoteResp ? 'MsgVoteResp' : 'MsgPreVoteResp';
        return { type, from, to, term, reject: this.bool() };
      }
      case CODE.MsgHeartbeat: {
        const commit = this.uint();
        return { type: 'MsgHeartbeat', from, to, term, commit, context: this.uint() };
      }
      case CODE.MsgHeartbeatResp:
        return { type: 'MsgHeartbeatResp', from, to, term, context: this.uint() };
      case CODE.MsgSnap: {
        const meta = this.snapshotMeta();
        const offset = this.uint();
        const totalBytes = this.uint();
        const data = this.bytes();
        const done = this.bool();
        return { type: 'MsgSnap', from, to, term, meta, offset, totalBytes, data, done };
      }
      case CODE.MsgSnapResp: {
        const index = this.uint();
        const offset = this.uint();
        return { type: 'MsgSnapResp', from, to, term, index, offset, reject: this.bool() };
      }
      case CODE.MsgTimeoutNow:
        return { type: 'MsgTimeoutNow', from, to, term };
      case CODE.MsgReadIndex:
        return { type: 'MsgReadIndex', from, to, term, context: this.uint() };
      case CODE.MsgReadIndexResp: {
        const context = this.uint();
        const index = this.uint();
        return { type: 'MsgReadIndexResp', from, to, term, context, index, reject: this.bool() };
      }
      default:
        throw decodeError(`unknown message type code ${code}`);
    }
  }
}

/**
 * `decodeMessages` decodes one frame made by {@link encodeMessages}.
 *
 * Throws `WsTransportError` (reason `'Decode'`) for anything else — another version, truncated
 * or trailing bytes, bad varints, invalid UTF-8, unknown type codes — and never another error.
 * Byte fields of the result are views into one private copy of the frame, never into `bytes`.
 */
export function decodeMessages(bytes: Uint8Array): Message[] {
  if (!(bytes instanceof Uint8Array)) throw decodeError('not a Uint8Array');
  if (bytes.length < 2) throw decodeError('shorter than a frame header');
  if (bytes[0] !== CODEC_VERSION) {
    throw decodeError(`unsupported codec version ${bytes[0]} (expected ${CODEC_VERSION})`);
  }
  const r = new Reader(bytes, 1);
  const n = r.count(MIN_MESSAGE_BYTES);
  const out: Message[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.message();
  if (r.left !== 0) throw decodeError(`${r.left} trailing bytes`);
  return out;
}
