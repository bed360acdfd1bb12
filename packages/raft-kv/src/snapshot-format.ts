/**
 * The snapshot byte format (version 1), all integers uvarints unless noted:
 *
 * ```
 * magic "TKVS" | version u8 | appliedIndex | logTime
 * | memberCount | (nodeId str | context str)*
 * | sessionCount | (clientId str | lastActive | floor | resultCount | result*)*   (LRU order)
 * | keyCount | (key str | value str)*                                           (key order)
 * | crc32 u32le over every byte before it
 * ```
 *
 * A result is `index | flags u8 (bit 0 ok, bit 1 prev, bit 2 current, bits 3–4 error) |
 * seq | [prev str] | [current str]`.
 */
import { Buffer } from 'node:buffer';
import { RaftError } from 'raft-core';
import { ByteReader, ByteWriter } from './bytes.js';
import { crc32 } from './crc32.js';
import type { KvResult } from './result.js';
import type { SessionRecord, SessionTable } from './sessions.js';
import { Cursor, type FrozenMap } from './sorted-map.js';

const MAGIC = [0x54, 0x4b, 0x56, 0x53]; // "TKVS"
/** The snapshot format's version byte. */
export const SNAPSHOT_VERSION = 1;
/** Keys serialized between two yields to the event loop. */
export const SNAPSHOT_CHUNK_KEYS = 10_000;

const ERRORS = [undefined, 'SessionExpired', 'InvalidCommand'] as const;

/** Everything but the key/value data, captured synchronously at `snapshot()`. */
export interface SnapshotHead {
  readonly appliedIndex: number;
  readonly logTime: number;
  readonly members: ReadonlyMap<string, string>;
  readonly sessions: SessionTable;
}

/** What `readSnapshot` returns. */
export interface DecodedSnapshot {
  appliedIndex: number;
  logTime: number;
  members: Map<string, string>;
  sessions: [string, SessionRecord][];
  keys: string[];
  vals: string[];
}

function writeResult(w: ByteWriter, seq: number, r: KvResult): void {
  w.uvarint(r.index);
  const err = r.error === undefined ? 0 : ERRORS.indexOf(r.error);
  w.u8((r.ok ? 1 : 0) | (r.prev !== null ? 2 : 0) | (r.current !== null ? 4 : 0) | (err << 3));
  w.uvarint(seq);
  if (r.prev !== null) w.str(r.prev);
  if (r.current !== null) w.str(r.current);
}

/**
 * Starts a snapshot: writes the head synchronously (so sessions and members are those at the
 * call) and returns a promise of the whole snapshot. The key/value data is read from the
 * frozen `data` view in chunks of {@link SNAPSHOT_CHUNK_KEYS}, yielding to the event loop
 * between chunks.
 */
export function writeSnapshot(head: SnapshotHead, data: FrozenMap): Promise<Uint8Array> {
  const w = new ByteWriter(1024);
  for (const b of MAGIC) w.u8(b);
  w.u8(SNAPSHOT_VERSION);
  w.uvarint(head.appliedIndex);
  w.uvarint(head.logTime);
  w.uvarint(head.members.size);
  for (const [id, ctx] of head.members) {
    w.str(id);
    w.str(ctx);
  }
  w.uvarint(head.sessions.size);
  for (const [id, s] of head.sessions.sessions) {
    w.str(id);
    w.uvarint(s.lastActive);
    w.uvarint(s.floor);
    w.uvarint(s.results.size);
    for (const [seq, r] of s.results) writeResult(w, seq, r);
  }
  w.uvarint(data.size);
  return writeData(w.bytes(), data);
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function writeData(head: Buffer, data: FrozenMap): Promise<Uint8Array> {
  const chunks: Buffer[] = [head];
  let crc = crc32(head);
  const cur = new Cursor(data.root);
  let written = 0;
  while (cur.key !== undefined) {
    await yieldToLoop();
    const w = new ByteWriter(64 * 1024);
    for (let n = 0; n < SNAPSHOT_CHUNK_KEYS && cur.key !== undefined; n++, cur.next()) {
      w.str(cur.key);
      w.str(cur.value);
      written++;
    }
    const b = w.bytes();
    crc = crc32(b, crc);
    chunks.push(b);
  }
  if (written !== data.size)
    throw new Error(`raft-kv snapshot: wrote ${written} of ${data.size} keys`);
  const tail = Buffer.allocUnsafe(4);
  tail.writeUInt32LE(crc, 0);
  chunks.push(tail);
  const out = Buffer.concat(chunks);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function corrupt(why: string): never {
  throw new RaftError('InvalidArgument', `corrupt raft-kv snapshot: ${why}`);
}

/** Decodes and validates (magic, version, checksum, structure, key order) a snapshot. */
export function readSnapshot(data: Uint8Array): DecodedSnapshot {
  if (!(data instanceof Uint8Array)) corrupt('not bytes');
  if (data.byteLength < MAGIC.length + 1 + 4) corrupt(`too short (${data.byteLength} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (data[i] !== MAGIC[i]) corrupt('bad magic (not a raft-kv snapshot)');
  }
  const version = data[MAGIC.length] as number;
  if (version !== SNAPSHOT_VERSION) {
    corrupt(`unsupported version ${version} (this build reads ${SNAPSHOT_VERSION})`);
  }
  const body = data.byteLength - 4;
  const stored = Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUInt32LE(body);
  const actual = crc32(data.subarray(0, body));
  if (stored !== actual) corrupt('checksum mismatch (truncated or damaged)');
  const r = new ByteReader(data, corrupt, body);
  r.pos = MAGIC.length + 1;
  const appliedIndex = r.uvarint();
  const logTime = r.uvarint();
  const members = new Map<string, string>();
  for (let n = r.uvarint(); n > 0; n--) members.set(r.str(true), r.str(true));
  const sessions: [string, SessionRecord][] = [];
  for (let n = r.uvarint(); n > 0; n--) {
    const id = r.str(true);
    const s: SessionRecord = { lastActive: r.uvarint(), floor: r.uvarint(), results: new Map() };
    for (let k = r.uvarint(); k > 0; k--) {
      const index = r.uvarint();
      const flags = r.u8();
      if (flags >> 5 !== 0 || flags >> 3 >= ERRORS.length) corrupt('bad result flags');
      const seq = r.uvarint();
      const res: KvResult = {
        index,
        ok: (flags & 1) !== 0,
        prev: flags & 2 ? r.str(true) : null,
        current: flags & 4 ? r.str(true) : null,
      };
      const err = ERRORS[flags >> 3];
      if (err !== undefined) res.error = err;
      s.results.set(seq, Object.freeze(res));
    }
    sessions.push([id, s]);
  }
  const count = r.uvarint();
  if (count > r.remaining / 2) corrupt(`key count ${count} exceeds the data`);
  const keys = new Array<string>(count);
  const vals = new Array<string>(count);
  let last: string | undefined;
  for (let i = 0; i < count; i++) {
    const k = r.str(false);
    if (k === '' || (last !== undefined && k <= last)) corrupt('keys not strictly increasing');
    keys[i] = k;
    vals[i] = r.str(false);
    last = k;
  }
  if (r.remaining !== 0) corrupt('trailing bytes');
  return { appliedIndex, logTime, members, sessions, keys, vals };
}
