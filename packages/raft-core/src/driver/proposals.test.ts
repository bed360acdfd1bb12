import { describe, expect, it } from 'vitest';
import { RaftError } from '../errors.js';
import type { Entry } from '../types.js';
import { ProposalTracker } from './proposals.js';

const entry = (index: number, term: number): Entry => ({
  index,
  term,
  type: 0,
  data: new Uint8Array(),
});

/** Settles `p` into a value or an error code, without an unhandled rejection. */
function outcome<T>(p: Promise<T>): Promise<{ ok: T } | { code: string }> {
  return p.then(
    (ok) => ({ ok }),
    (e: unknown) => ({ code: RaftError.isInstance(e) ? e.code : String(e) }),
  );
}

describe('ProposalTracker', () => {
  it('resolves each proposal with its own result, in order, across compactions', async () => {
    const t = new ProposalTracker<number>();
    const all: Promise<{ ok: number } | { code: string }>[] = [];
    // Keep up to 300 pending while 5,000 go through, so the head moves far and the columns
    // are compacted many times without ever being empty.
    let next = 1;
    let applied = 1;
    while (applied <= 5000) {
      while (next <= 5000 && next - applied < 300) all.push(outcome(t.add(next, 3, 100 + next++)));
      for (let k = 0; k < 7 && applied < next; k++, applied++)
        t.applied(entry(applied, 3), applied * 10);
      expect(t.size).toBe(next - applied);
    }
    const results = await Promise.all(all);
    expect(results).toEqual(Array.from({ length: 5000 }, (_, i) => ({ ok: (i + 1) * 10 })));
    expect(t.size).toBe(0);
    expect(t.indexes()).toEqual([]);
  });

  it('empties after every batch and reuses its slots', async () => {
    const t = new ProposalTracker<number>();
    let index = 1;
    for (let batch = 0; batch < 5; batch++) {
      const size = batch % 2 === 0 ? 40 : 7; // a smaller batch after a larger one
      const ps = Array.from({ length: size }, () => outcome(t.add(index, 1, 100 + index++)));
      for (let i = index - size; i < index; i++) t.applied(entry(i, 1), -i);
      expect(t.size).toBe(0);
      expect(t.indexes()).toEqual([]);
      const got = await Promise.all(ps);
      expect(got).toEqual(Array.from({ length: size }, (_, k) => ({ ok: -(index - size + k) })));
    }
    // A spare slot is never mistaken for a pending proposal.
    t.applied(entry(3, 1), 0);
    t.expire(1_000_000, 1);
    expect(t.size).toBe(0);
  });

  it('ignores applied entries it does not track, and rejects a superseded proposal', async () => {
    const t = new ProposalTracker<string>();
    const a = outcome(t.add(5, 2, 100));
    const b = outcome(t.add(6, 2, 100));
    t.applied(entry(4, 2), 'not ours'); // below the head (the new leader's empty entry)
    t.applied(entry(5, 3), 'theirs'); // another leader's entry committed at index 5
    t.applied(entry(7, 2), 'not ours'); // above every pending index
    t.applied(entry(6, 2), 'ours');
    expect(await a).toEqual({ code: 'ProposalDropped' });
    expect(await b).toEqual({ ok: 'ours' });
    expect(t.size).toBe(0);
  });

  it('places an index taken again below the newest one, rejecting only the same index', async () => {
    const t = new ProposalTracker<string>();
    // Term 2 proposals at 10–12; the tail is truncated and this node leads again at term 4.
    const old = [10, 11, 12].map((i) => outcome(t.add(i, 2, 100)));
    const again = outcome(t.add(10, 4, 100));
    const gap = outcome(t.add(8, 4, 100)); // below everything pending
    expect(await old[0]).toEqual({ code: 'ProposalDropped' });
    expect(t.indexes()).toEqual([8, 10, 11, 12]);
    t.applied(entry(10, 4), 'new 10'); // not the head: found by search
    t.applied(entry(8, 4), 'new 8'); // the head again
    t.applied(entry(11, 4), 'x'); // the old term-2 proposal at 11 was superseded
    expect(await again).toEqual({ ok: 'new 10' });
    expect(await gap).toEqual({ ok: 'new 8' });
    expect(await old[1]).toEqual({ code: 'ProposalDropped' });
    expect(t.indexes()).toEqual([12]);
  });

  it('applies the entry at its index even when an older proposal is stuck at the head', async () => {
    const t = new ProposalTracker<string>();
    const stuck = outcome(t.add(3, 1, 50));
    const later = outcome(t.add(4, 1, 100));
    t.applied(entry(4, 1), 'four');
    expect(await later).toEqual({ ok: 'four' });
    expect(t.indexes()).toEqual([3]);
    t.expire(50, 1000);
    expect(await stuck).toEqual({ code: 'OutcomeUnknown' });
  });

  it('expires only proposals whose deadline passed, and keeps the rest in order', async () => {
    const t = new ProposalTracker<string>();
    const ps = [1, 2, 3, 4, 5].map((i) => outcome(t.add(i, 1, i % 2 === 0 ? 10 : 20)));
    t.expire(9, 1000);
    expect(t.size).toBe(5);
    t.expire(10, 1000);
    expect(t.indexes()).toEqual([1, 3, 5]);
    t.applied(entry(1, 1), 'one');
    t.applied(entry(2, 1), 'gone'); // already expired: nothing to settle
    t.applied(entry(3, 1), 'three');
    expect(t.indexes()).toEqual([5]);
    t.applied(entry(5, 1), 'five');
    expect(await Promise.all(ps)).toEqual([
      { ok: 'one' },
      { code: 'OutcomeUnknown' },
      { ok: 'three' },
      { code: 'OutcomeUnknown' },
      { ok: 'five' },
    ]);
  });

  it('rejects by index range as OutcomeUnknown, and everything on failAll', async () => {
    const t = new ProposalTracker<string>();
    const ps = [1, 2, 3, 4, 5, 6].map((i) => outcome(t.add(i, 1, 100)));
    t.applied(entry(1, 1), 'one'); // moves the head, so the range scans start past 0
    t.unknown({ le: 2 }, 'covered by a snapshot');
    t.unknown({ gt: 4 }, 'removed');
    expect(t.indexes()).toEqual([3, 4]);
    const stopped = new RaftError('Stopped', 'stopped');
    t.failAll(stopped);
    expect(t.size).toBe(0);
    expect(await Promise.all(ps)).toEqual([
      { ok: 'one' },
      { code: 'OutcomeUnknown' },
      { code: 'Stopped' },
      { code: 'Stopped' },
      { code: 'OutcomeUnknown' },
      { code: 'OutcomeUnknown' },
    ]);
    // Still usable after failAll.
    const p = outcome(t.add(7, 1, 100));
    t.applied(entry(7, 1), 'seven');
    expect(await p).toEqual({ ok: 'seven' });
  });
});
