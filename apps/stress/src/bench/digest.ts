import type { Entry, StateMachine } from 'raft-core';

/**
 * `Digest` is the benchmark's state machine: it counts applied entries and hashes their
 * payloads in order (FNV-1a), so two nodes applied the identical sequence iff their counts
 * and hashes match. It also notes when it applied its last entry (epoch ms).
 */
export class Digest implements StateMachine<number> {
  count = 0;
  hash = 0x811c9dc5;
  lastAppliedAt = 0;
  #stampPending = false;
  #buffer: ArrayBufferLike = new ArrayBuffer(0);
  #view = new DataView(this.#buffer);

  apply(e: Entry): number {
    const d = e.data;
    if (e.type !== 0 || d.length === 0) return this.count;
    // FNV-1a over 32-bit words, then the trailing bytes: the same guarantee (any change to the
    // payloads or their order changes the hash) at a quarter of the per-byte loop's cost.
    let h = this.hash;
    const n = d.length;
    const words = n >>> 2;
    if (words > 0) {
      // One DataView per backing buffer (payloads share slabs): not one per entry.
      if (d.buffer !== this.#buffer) {
        this.#buffer = d.buffer;
        this.#view = new DataView(d.buffer);
      }
      const v = this.#view;
      const o = d.byteOffset;
      for (let i = 0; i < words; i++)
        h = Math.imul(h ^ v.getUint32(o + (i << 2), true), 0x01000193);
    }
    for (let i = words << 2; i < n; i++) h = Math.imul(h ^ (d[i] as number), 0x01000193);
    this.hash = h >>> 0;
    // One clock read per batch of applies (they arrive in runs, one run per Ready), not one
    // per entry: the time of the run's end is what the throughput figure needs.
    if (!this.#stampPending) {
      this.#stampPending = true;
      queueMicrotask(this.#stamp);
    }
    return ++this.count;
  }

  readonly #stamp = (): void => {
    this.#stampPending = false;
    this.lastAppliedAt = epochMs();
  };

  snapshot(): Uint8Array {
    return new TextEncoder().encode(`${this.count},${this.hash}`);
  }

  restore(b: Uint8Array): void {
    const [c, h] = new TextDecoder().decode(b).split(',');
    this.count = Number(c);
    this.hash = Number(h);
  }
}

/** Milliseconds since the epoch with sub-ms precision, comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
