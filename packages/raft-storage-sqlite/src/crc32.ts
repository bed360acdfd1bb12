/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320 — the zlib/PNG/gzip checksum), computed
 * slicing-by-8: eight 256-entry tables let the inner loop consume 8 bytes per iteration.
 *
 * NB: this is an integrity check against torn writes and bit rot, not a defence against an
 * adversary; CRC-32 detects every burst error up to 32 bits and all odd numbers of flipped bits.
 */

const POLY = 0xedb88320;

/** `TABLES[k * 256 + b]` is the CRC of byte `b` followed by `k` zero bytes. */
const TABLES = makeTables();

function makeTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + b] = c;
    }
  }
  return t;
}

/**
 * `crc32Update` extends a running CRC-32 (its finalized value, 0 for an empty input) with
 * `data`, so `crc32Update(crc32Update(0, a), b)` equals the CRC of `a` followed by `b`.
 */
export function crc32Update(crc: number, data: Uint8Array): number {
  const t = TABLES;
  let c = ~crc;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const lo = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
    i += 8;
  }
  while (i < n) c = t[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** `crc32` is the CRC-32 of `data` (equal to Node's `zlib.crc32(data)`). */
export function crc32(data: Uint8Array): number {
  return crc32Update(0, data);
}

/**
 * `crc32UpdateU32` extends a running CRC-32 with the 4 little-endian bytes of the unsigned
 * 32-bit integer `v`, without allocating a buffer.
 */
export function crc32UpdateU32(crc: number, v: number): number {
  const t = TABLES;
  const x = ~crc ^ v;
  return (
    ~(
      t[768 + (x & 0xff)]! ^
      t[512 + ((x >>> 8) & 0xff)]! ^
      t[256 + ((x >>> 16) & 0xff)]! ^
      t[x >>> 24]!
    ) >>> 0
  );
}

/**
 * `crc32UpdateU64` extends a running CRC-32 with an integer in `[0, 2^53)` encoded as 8
 * little-endian bytes (low word first).
 */
export function crc32UpdateU64(crc: number, v: number): number {
  return crc32UpdateU32(crc32UpdateU32(crc, v >>> 0), Math.floor(v / 0x1_0000_0000) >>> 0);
}
