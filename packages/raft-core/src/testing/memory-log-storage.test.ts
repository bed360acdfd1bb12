import { describe, expect, it } from 'vitest';
import { EMPTY_CONF_STATE, type Entry } from '../types.js';
import { logStorageConformanceCases } from './log-storage-conformance.js';
import { MemoryLogStorage } from './memory-log-storage.js';
import { Rng } from './rng.js';

describe('MemoryLogStorage conformance', () => {
  // Reopening a MemoryLogStorage is the same object (its state survives close()).
  for (const c of logStorageConformanceCases(async () => ({ storage: new MemoryLogStorage() }))) {
    it(c.name, c.run);
  }
});

/** Byte equality, without vitest's per-element deep comparison (slow on many buffers). */
function sameBytes(a: Uint8Array, b: Uint8Array | undefined): boolean {
  if (b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('MemoryLogStorage memory reuse', () => {
  const SEED = Number(process.env.SEED ?? 11);

  it('entries read back are unchanged by later writes that reuse discarded memory', async () => {
    const rng = new Rng(SEED);
    const s = new MemoryLogStorage();
    // The model: every stored entry's term and bytes, from index `first` on.
    let first = 1;
    let model: { term: number; data: Uint8Array }[] = [];
    let term = 1;
    let fill = 0;
    const reads: { got: Entry[]; want: { term: number; data: Uint8Array }[] }[] = [];
    const check = (got: Entry[], want: typeof model, from: number, why: string) => {
      expect(got.length, why).toBe(want.length);
      const bad = got.findIndex(
        (e, i) =>
          e.index !== from + i || e.term !== want[i]?.term || !sameBytes(e.data, want[i]?.data),
      );
      expect(bad, `${why}: first wrong entry`).toBe(-1);
    };
    try {
      for (let step = 0; step < 300; step++) {
        const last = first + model.length - 1;
        if (rng.chance(0.8) || model.length === 0) {
          // A write of up to 40 entries of up to 8 KiB: chunks fill within a few writes.
          const at = rng.int(first, last + 1);
          term += rng.chance(0.2) ? 1 : 0;
          const n = rng.int(1, 40);
          const ents: Entry[] = [];
          for (let i = 0; i < n; i++) {
            const data = new Uint8Array(rng.int(0, 8192)).fill(++fill & 0xff);
            ents.push({ index: at + i, term, type: 0, data });
          }
          await s.save({ entries: ents }, true);
          model = [
            ...model.slice(0, at - first),
            ...ents.map((e) => ({ term: e.term, data: new Uint8Array(e.data) })),
          ];
        } else {
          // A snapshot inside the log: keeps the suffix if the terms match, else drops it all.
          const index = rng.int(first, last);
          const keep = rng.chance(0.7);
          const snapTerm = keep ? (model[index - first]?.term as number) : term + 1000;
          const meta = { index, term: snapTerm, confState: EMPTY_CONF_STATE };
          await s.save({ snapshot: { meta, data: new Uint8Array(1) }, entries: [] }, true);
          model = keep ? model.slice(index + 1 - first) : [];
          first = index + 1;
        }
        const got = model.length > 0 ? await s.entries(first, first + model.length) : [];
        check(got, model, first, `step ${step}`);
        reads.push({ got, want: model });
      }
      // Every earlier read still holds what was stored when it was made.
      for (const [i, r] of reads.entries()) check(r.got, r.want, r.got[0]?.index ?? 0, `read ${i}`);
    } catch (e) {
      (e as Error).message +=
        `\nreplay: SEED=${SEED} pnpm vitest run --project raft-core src/testing/memory-log-storage.test.ts`;
      throw e;
    }
  });
});
