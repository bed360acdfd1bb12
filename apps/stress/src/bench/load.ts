/**
 * The benchmark's load: `concurrency` workers each propose one entry at a time until
 * `entries` were proposed or `durationMs` passed, recording each commit latency.
 */
import { epochMs } from './digest.js';

export interface LoadSpec {
  /** Stop after this many entries (0 = no limit; then `durationMs` must be set). */
  readonly entries: number;
  /** Stop proposing after this long (0 = no limit). */
  readonly durationMs: number;
  readonly size: number;
  readonly concurrency: number;
}

export interface LoadResult {
  /** Entries committed (proposals resolved). */
  readonly done: number;
  readonly startedAt: number;
  readonly durationMs: number;
  /** Sorted commit latencies in ms, one per committed entry. */
  readonly latencies: Float64Array;
}

export async function runLoad(
  propose: (data: Uint8Array) => Promise<unknown>,
  spec: LoadSpec,
  onProgress: (done: number) => void,
): Promise<LoadResult> {
  const cap = spec.entries > 0 ? spec.entries : Number.POSITIVE_INFINITY;
  const latencies: number[] = [];
  const size = Math.max(4, spec.size);
  // Payloads are carved from shared slabs, as Node's own Buffer pool does: one backing store
  // per slab rather than one per proposal (each costs an off-heap allocation and a sweep).
  const perSlab = Math.max(1, Math.floor(65536 / size));
  let slab = new Uint8Array(0);
  let slabView = new DataView(slab.buffer);
  let slabUsed = perSlab;
  let next = 0;
  let done = 0;
  const startedAt = epochMs();
  const t0 = performance.now();
  const until = spec.durationMs > 0 ? t0 + spec.durationMs : Number.POSITIVE_INFINITY;
  const progress = setInterval(() => onProgress(done), 200);
  const worker = async (): Promise<void> => {
    for (;;) {
      if (next >= cap || performance.now() >= until) return;
      const i = next++;
      if (slabUsed === perSlab) {
        slab = new Uint8Array(perSlab * size);
        slabView = new DataView(slab.buffer);
        slabUsed = 0;
      }
      const offset = slabUsed++ * size;
      const data = slab.subarray(offset, offset + size);
      // Entry i's first 4 bytes are i, so every payload differs and the hash sees the order.
      slabView.setUint32(offset, i);
      const start = performance.now();
      await propose(data);
      latencies.push(performance.now() - start);
      done++;
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
  } finally {
    clearInterval(progress);
  }
  onProgress(done);
  const sorted = Float64Array.from(latencies).sort();
  return { done, startedAt, durationMs: performance.now() - t0, latencies: sorted };
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}
