import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entrySize, RaftLog } from './log.js';
import type { Entry } from './types.js';

const entry = (index: number, term: number, bytes: number): Entry => ({
  index,
  term,
  type: 0,
  data: new Uint8Array(bytes),
});

/** The byte-limited slice, written the naive way: sum entry by entry (the reference). */
function naiveSlice(all: readonly Entry[], lo: number, hi: number, maxBytes: number): Entry[] {
  const out: Entry[] = [];
  let size = 0;
  for (const e of all) {
    if (e.index < lo || e.index >= hi) continue;
    size += entrySize(e);
    if (out.length > 0 && size > maxBytes) break;
    out.push(e);
  }
  return out;
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), at: fc.nat(), sizes: fc.array(fc.nat(300)) }),
  fc.record({ kind: fc.constant('appendLast' as const), size: fc.nat(300) }),
  fc.record({ kind: fc.constant('compact' as const), commit: fc.nat(), keep: fc.nat() }),
  fc.record({ kind: fc.constant('restore' as const), ahead: fc.nat(20) }),
);
const query = fc.record({ lo: fc.nat(), len: fc.nat(40), maxBytes: fc.nat(3000) });

describe('RaftLog.slice with a byte limit', () => {
  it('a byte limit includes an entry that ends exactly at it, and always one entry', () => {
    const log = new RaftLog(0, 0, [], 0);
    for (let i = 1; i <= 5; i++) log.appendLast(entry(i, 1, 100)); // entrySize 124 each
    const idx = (lo: number, maxBytes: number) => log.slice(lo, 6, maxBytes).map((e) => e.index);
    expect(idx(2, 248)).toEqual([2, 3]);
    expect(idx(2, 247)).toEqual([2]);
    expect(idx(2, 0)).toEqual([2]);
    expect(idx(2, 496)).toEqual([2, 3, 4, 5]);
    log.commitTo(3);
    log.appliedTo(3);
    log.compact(2);
    expect(idx(3, 248)).toEqual([3, 4]);
  });

  it('agrees with summing entry by entry, through appends, truncations, compactions and restores', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(op, fc.array(query, { maxLength: 4 })), { maxLength: 40 }),
        (steps) => {
          const log = new RaftLog(0, 0, [], 0);
          let term = 1;
          for (const [o, queries] of steps) {
            const first = log.firstIndex();
            const last = log.lastIndex();
            if (o.kind === 'append') {
              // A follower's append: from after the commit point up to right after the last entry.
              const lo = Math.max(log.committed, log.snapshotIndex()) + 1;
              const at = lo + (o.at % (last + 2 - lo));
              term++;
              log.append(o.sizes.map((b, i) => entry(at + i, term, b)));
            } else if (o.kind === 'appendLast') {
              log.appendLast(entry(last + 1, term, o.size));
            } else if (o.kind === 'compact') {
              if (last < first) continue;
              const c = log.committed + (o.commit % (last - log.committed + 1));
              log.commitTo(c);
              log.appliedTo(c);
              log.compact(Math.max(first - 1, c - (o.keep % 5)));
            } else {
              log.restore({
                meta: { index: last + o.ahead, term: ++term, confState: emptyConf },
                data: new Uint8Array(),
              });
              log.appliedTo(last + o.ahead);
            }
            const all = log.slice(log.firstIndex(), log.lastIndex() + 1);
            expect(all.map((e) => e.index)).toEqual(
              Array.from(
                { length: log.lastIndex() - log.firstIndex() + 1 },
                (_, i) => log.firstIndex() + i,
              ),
            );
            for (const q of queries) {
              const n = log.lastIndex() - log.firstIndex() + 1;
              const lo = log.firstIndex() + (n === 0 ? 0 : q.lo % n);
              const hi = lo + q.len;
              expect(log.slice(lo, hi, q.maxBytes)).toEqual(naiveSlice(all, lo, hi, q.maxBytes));
            }
          }
        },
      ),
      { numRuns: 300, seed: 20261129 },
    );
  });
});

const emptyConf = {
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};
