/** Model-based tests: the B+tree and the state machine against a naive sorted `Map`. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KvResult, KvStateMachine } from '../src/index.js';
import { Branch, Cursor, type FrozenMap, type Node, SortedMap } from '../src/sorted-map.js';

/** Checks the B+tree invariants; returns the depth. */
function checkTree(n: Node | null, isRoot = true): number {
  if (n === null) return 0;
  expect(n.keys.length).toBeLessThanOrEqual(64);
  if (!isRoot) expect(n.keys.length).toBeGreaterThanOrEqual(16);
  if (!(n instanceof Branch)) {
    for (let i = 1; i < n.keys.length; i++)
      expect((n.keys[i - 1] as string) < (n.keys[i] as string)).toBe(true);
    return 1;
  }
  if (isRoot) expect(n.children.length).toBeGreaterThanOrEqual(2);
  const depths = n.children.map((c, i) => {
    expect(n.keys[i]).toBe(c.keys[0]);
    return checkTree(c, false);
  });
  expect(new Set(depths).size).toBe(1);
  return (depths[0] as number) + 1;
}

import { Feeder, fcParams } from './support/helpers.js';

function modelList(
  m: Map<string, string>,
  prefix: string,
  limit: number,
  after?: string,
): { items: { key: string; value: string }[]; more: boolean } {
  const keys = [...m.keys()]
    .filter((k) => k.startsWith(prefix) && (after === undefined || k > after))
    .sort();
  return {
    items: keys.slice(0, limit).map((key) => ({ key, value: m.get(key) as string })),
    more: keys.length > limit,
  };
}

function dump(view: FrozenMap): [string, string][] {
  const out: [string, string][] = [];
  for (const c = new Cursor(view.root); c.key !== undefined; c.next()) out.push([c.key, c.value]);
  return out;
}

// Small alphabets so keys collide and prefixes match often.
const key = fc.string({
  unit: fc.constantFrom('a', 'b', 'c', 'é', '😀'),
  minLength: 1,
  maxLength: 4,
});
const manyKeys = fc.integer({ min: 0, max: 700 }).map((n) => `k${n.toString(36)}`);

type TreeOp = { t: 'set'; k: string; v: string } | { t: 'del'; k: string } | { t: 'freeze' };
const treeOp: fc.Arbitrary<TreeOp> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      t: fc.constant('set' as const),
      k: manyKeys,
      v: fc.string({ maxLength: 3 }),
    }),
  },
  { weight: 8, arbitrary: fc.record({ t: fc.constant('del' as const), k: manyKeys }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('freeze' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('del' as const), k: fc.constant('k0') }) },
);

describe('SortedMap', () => {
  it('matches a Map model, and frozen views never change', () => {
    fc.assert(
      fc.property(fc.array(treeOp, { minLength: 500, maxLength: 3000, size: 'max' }), (ops) => {
        const t = new SortedMap();
        const m = new Map<string, string>();
        const views: [FrozenMap, [string, string][]][] = [];
        for (const op of ops) {
          if (op.t === 'set') {
            expect(t.set(op.k, op.v)).toBe(m.get(op.k));
            m.set(op.k, op.v);
          } else if (op.t === 'del') {
            expect(t.delete(op.k)).toBe(m.get(op.k));
            m.delete(op.k);
          } else if (op.t === 'freeze') views.push([t.freeze(), [...m].sort(cmp)]);
          expect(t.size).toBe(m.size);
        }
        checkTree(t.live());
        expect(dump({ root: t.live(), size: t.size })).toEqual([...m].sort(cmp));
        for (const [k, v] of m) expect(t.get(k)).toBe(v);
        for (const [view, want] of views) expect(dump(view)).toEqual(want);
      }),
      fcParams('SortedMap model', 60),
    );
  });

  it('fills up and drains completely (splits and merges at every level)', () => {
    const t = new SortedMap();
    const n = 50_000;
    const order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    for (const i of order) t.set(`k${i}`, `${i}`);
    const view = t.freeze();
    for (const i of order) if (i % 3 !== 0) t.delete(`k${i}`);
    expect(t.size).toBe(Math.ceil(n / 3));
    checkTree(t.live());
    checkTree(view.root);
    expect(dump({ root: t.live(), size: t.size }).map(([k]) => k)).toEqual(
      order
        .filter((i) => i % 3 === 0)
        .map((i) => `k${i}`)
        .sort(),
    );
    for (const i of order) t.delete(`k${i}`);
    expect(t.size).toBe(0);
    expect(t.live()).toBeNull();
    expect(dump(view).length).toBe(n);
  });
});

function cmp(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

type SmOp =
  | { t: 'put'; key: string; value: string }
  | { t: 'delete'; key: string }
  | { t: 'cas'; key: string; from: string | null; to: string }
  | { t: 'list'; prefix: string; limit: number; after: string | undefined };
const value = fc.constantFrom('x', 'y', 'z', '');
const smOp: fc.Arbitrary<SmOp> = fc.oneof(
  fc.record({ t: fc.constant('put' as const), key, value }),
  fc.record({ t: fc.constant('delete' as const), key }),
  fc.record({ t: fc.constant('cas' as const), key, from: fc.option(value), to: value }),
  fc.record({
    t: fc.constant('list' as const),
    prefix: fc.oneof(fc.constant(''), key),
    limit: fc.integer({ min: 0, max: 6 }),
    after: fc.option(key, { nil: undefined }),
  }),
);

describe('KvStateMachine against a Map model', () => {
  it('put/delete/cas results and list pages agree with the model', () => {
    fc.assert(
      fc.property(fc.array(smOp, { minLength: 20, maxLength: 300, size: 'max' }), (ops) => {
        const sm = new KvStateMachine();
        const feed = new Feeder((e) => sm.apply(e));
        const m = new Map<string, string>();
        for (const op of ops) {
          if (op.t === 'list') {
            expect(sm.list(op.prefix, op.limit, op.after)).toEqual(
              modelList(m, op.prefix, op.limit, op.after),
            );
            continue;
          }
          const prev = m.get(op.key) ?? null;
          let want: Omit<KvResult, 'index'>;
          if (op.t === 'put') {
            m.set(op.key, op.value);
            want = { ok: true, prev, current: op.value };
          } else if (op.t === 'delete') {
            m.delete(op.key);
            want = { ok: prev !== null, prev, current: null };
          } else if (prev === op.from) {
            m.set(op.key, op.to);
            want = { ok: true, prev, current: op.to };
          } else want = { ok: false, prev, current: prev };
          const { t: _, ...cmd } = op;
          const got = feed.cmd({ op: op.t, ...cmd } as never);
          expect(got).toEqual({ index: feed.index, ...want });
          expect(sm.size).toBe(m.size);
          expect(sm.get(op.key)).toBe(m.get(op.key));
        }
        expect(sm.appliedIndex).toBe(feed.index);
        // Paging through everything with `after` visits every key once, in order.
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = sm.list('', 2, after);
          seen.push(...page.items.map((i) => i.key));
          if (!page.more) break;
          after = page.items.at(-1)?.key;
        }
        expect(seen).toEqual([...m.keys()].sort());
      }),
      fcParams('KvStateMachine model', 200),
    );
  });
});
