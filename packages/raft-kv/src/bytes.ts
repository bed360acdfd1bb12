/**
 * Little binary writer/reader shared by the command codec and the snapshot format.
 * Integers are unsigned LEB128 varints up to `Number.MAX_SAFE_INTEGER`; strings are a varint
 * UTF-8 byte length followed by the bytes.
 */
import { Buffer } from 'node:buffer';

/** An append-only byte buffer that grows by doubling. */
export class ByteWriter {
  private buf: Buffer;
  /** Bytes written so far. Invariant: `pos <= buf.length`. */
  pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  /** An unsigned integer ≤ `Number.MAX_SAFE_INTEGER` as LEB128 (no 32-bit bit ops above 2^31). */
  uvarint(v: number): void {
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** A well-formed string (callers validate: a lone surrogate would be written as U+FFFD). */
  str(s: string): void {
    const n = s.length < 43 && isAscii(s) ? s.length : Buffer.byteLength(s, 'utf8');
    this.uvarint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  /** The written bytes (a view; the writer must not be used afterwards). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** A bounds-checked reader; every read past the end calls `fail`. */
export class ByteReader {
  private readonly buf: Buffer;
  pos = 0;

  constructor(
    data: Uint8Array,
    private readonly fail: (why: string) => never,
    readonly end: number = data.byteLength,
  ) {
    this.buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('truncated');
    return this.buf[this.pos++] as number;
  }

  u32(): number {
    if (this.pos + 4 > this.end) this.fail('truncated');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  uvarint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) this.fail('varint too long');
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
    }
    if (v > Number.MAX_SAFE_INTEGER) this.fail('integer out of range');
    return v;
  }

  /** A string; `strict` rejects malformed UTF-8 instead of replacing it. */
  str(strict: boolean): string {
    const n = this.uvarint();
    if (n > this.end - this.pos) this.fail('truncated string');
    const start = this.pos;
    this.pos += n;
    if (strict) {
      try {
        return STRICT_UTF8.decode(this.buf.subarray(start, this.pos));
      } catch {
        return this.fail('malformed UTF-8');
      }
    }
    return this.buf.toString('utf8', start, this.pos);
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
