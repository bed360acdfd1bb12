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

  apply(e: Entry): number {
    if (e.type !== 0 || e.data.length === 0) return this.count;
    let h = this.hash;
    for (let i = 0; i < e.data.length; i++)
      h = Math.imul(h ^ (e.data[i] as number), 0x01000193) >>> 0;
    this.hash = h;
    this.lastAppliedAt = epochMs();
    return ++this.count;
  }

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
