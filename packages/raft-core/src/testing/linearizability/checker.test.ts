import { describe, expect, it } from 'vitest';
import { RaftError } from '../../errors.js';
import {
  type CheckResult,
  checkOperations,
  type KvInput,
  type KvOperation,
  kvModel,
  type Model,
} from './index.js';

// History builders: `[call, return]` first, then the request and its response.
const get = (c: number, t: [number, number], key: string, out: string | null): KvOperation => ({
  clientId: c,
  input: { op: 'get', key },
  output: out,
  call: t[0],
  return: t[1],
});
const put = (c: number, t: [number, number], key: string, value: string): KvOperation => ({
  clientId: c,
  input: { op: 'put', key, value },
  output: 'ok',
  call: t[0],
  return: t[1],
});
const del = (c: number, t: [number, number], key: string): KvOperation => ({
  clientId: c,
  input: { op: 'delete', key },
  output: 'ok',
  call: t[0],
  return: t[1],
});
const cas = (
  c: number,
  t: [number, number],
  key: string,
  from: string | null,
  to: string,
  swapped: boolean,
): KvOperation => ({
  clientId: c,
  input: { op: 'cas', key, from, to },
  output: swapped,
  call: t[0],
  return: t[1],
});
/** A write whose response never arrived: it may take effect any time after `call`, or never. */
const unknown = (c: number, call: number, input: KvInput): KvOperation =>
  ({ clientId: c, input, output: undefined, call, return: Infinity }) as KvOperation;

const check = (history: readonly KvOperation[]): CheckResult => checkOperations(kvModel, history);

describe('checkOperations with kvModel: linearizable histories', () => {
  it('accepts the empty history', () => {
    expect(check([])).toEqual({ result: 'ok', steps: 0, partitions: [] });
  });

  it('accepts a sequential history of every operation kind', () => {
    const r = check([
      get(1, [0, 1], 'x', null),
      put(1, [2, 3], 'x', 'a'),
      get(2, [4, 5], 'x', 'a'),
      cas(2, [6, 7], 'x', 'a', 'b', true),
      del(1, [8, 9], 'x'),
      get(1, [10, 11], 'x', null),
    ]);
    expect(r.result).toBe('ok');
    expect(r.partitions).toEqual([{ key: 'x', result: 'ok', operations: 6, steps: r.steps }]);
  });

  it.each(['a', 'b'])('accepts overlapping puts whose reads see either order (last %s)', (last) => {
    const r = check([
      put(1, [0, 10], 'x', 'a'),
      put(2, [0, 10], 'x', 'b'),
      get(3, [2, 8], 'x', 'a'),
      get(4, [3, 9], 'x', 'b'),
      get(3, [11, 12], 'x', last),
      get(4, [13, 14], 'x', last),
    ]);
    expect(r.result).toBe('ok');
  });

  it('accepts a cas chain and a contended cas with exactly one winner', () => {
    const r = check([
      cas(1, [0, 1], 'x', null, 'a', true),
      cas(2, [2, 3], 'x', 'a', 'b', true),
      cas(1, [4, 5], 'x', 'a', 'c', false),
      cas(3, [6, 10], 'x', 'b', 'p', false),
      cas(4, [6, 10], 'x', 'b', 'q', true),
      get(1, [11, 12], 'x', 'q'),
    ]);
    expect(r.result).toBe('ok');
  });

  it('treats an op called at the instant another returns as concurrent (tie rule)', () => {
    const at = (call: number) => check([put(1, [0, 10], 'x', 'a'), get(2, [call, 12], 'x', null)]);
    expect(at(10).result).toBe('ok');
    expect(at(11).result).toBe('illegal');
  });
});

describe('checkOperations with kvModel: violations', () => {
  const cases: [string, KvOperation[]][] = [
    [
      'a stale read after a completed write',
      [put(1, [0, 1], 'x', 'a'), put(1, [2, 3], 'x', 'b'), get(2, [4, 5], 'x', 'a')],
    ],
    ['a lost acknowledged write', [put(1, [0, 10], 'x', 'a'), get(2, [20, 30], 'x', null)]],
    [
      'two cas from the same value both succeeding',
      [
        put(1, [0, 1], 'x', 'a'),
        cas(2, [2, 10], 'x', 'a', 'b', true),
        cas(3, [2, 10], 'x', 'a', 'c', true),
      ],
    ],
    ['a read of a value never written', [put(1, [0, 1], 'x', 'a'), get(2, [0, 5], 'x', 'zzz')]],
    [
      'non-monotonic reads across clients',
      [
        put(1, [0, 1], 'x', 'old'),
        put(1, [2, 100], 'x', 'new'),
        get(2, [10, 20], 'x', 'new'),
        get(3, [30, 40], 'x', 'old'),
      ],
    ],
  ];

  it.each(cases)('rejects %s', (_name, history) => {
    const r = check(history);
    expect(r.result).toBe('illegal');
    if (r.result !== 'illegal') return;
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]?.key).toBe('x');
  });

  it('names the partition, the longest prefix and the stuck frontier', () => {
    const history = [
      put(1, [0, 1], 'y', '1'),
      put(1, [2, 3], 'x', 'a'),
      put(1, [4, 5], 'x', 'b'),
      get(2, [6, 7], 'y', '1'),
      get(2, [8, 9], 'x', 'a'),
      get(3, [10, 11], 'x', 'b'),
    ];
    const r = check(history);
    expect(r.result).toBe('illegal');
    if (r.result !== 'illegal') return;
    expect(r.partitions.map((p) => [p.key, p.result])).toEqual([
      ['y', 'ok'],
      ['x', 'illegal'],
    ]);
    const [v] = r.violations;
    expect(v?.key).toBe('x');
    expect(v?.longestPrefix).toEqual([1, 2]);
    expect(v?.frontier).toEqual([4]);
    expect(v?.message).toContain('state after it: "b"');
    expect(v?.message).toContain('#4 client 2 [8, 9] get("x") → "a"');
  });
});

describe('checkOperations with kvModel: unknown outcomes (return = Infinity)', () => {
  const x = (value: string): KvInput => ({ op: 'put', key: 'x', value });

  it('accepts a timed-out put that took effect', () => {
    expect(check([unknown(1, 0, x('a')), get(2, [5, 6], 'x', 'a')]).result).toBe('ok');
  });

  it('accepts a timed-out put that never took effect', () => {
    expect(check([unknown(1, 0, x('a')), get(2, [5, 6], 'x', null)]).result).toBe('ok');
  });

  it('lets a timed-out put take effect after later writes', () => {
    const r = check([unknown(1, 0, x('a')), put(2, [5, 10], 'x', 'b'), get(3, [20, 21], 'x', 'a')]);
    expect(r.result).toBe('ok');
  });

  it('accepts a timed-out cas either way', () => {
    const c: KvInput = { op: 'cas', key: 'x', from: null, to: 'a' };
    expect(check([unknown(1, 0, c), get(2, [5, 6], 'x', 'a')]).result).toBe('ok');
    expect(check([unknown(1, 0, c), get(2, [5, 6], 'x', null)]).result).toBe('ok');
  });

  it('rejects a timed-out put that is seen and then un-happens', () => {
    const r = check([unknown(1, 0, x('a')), get(2, [5, 6], 'x', 'a'), get(2, [7, 8], 'x', null)]);
    expect(r.result).toBe('illegal');
  });

  it('rejects a timed-out put seen before it was called', () => {
    expect(check([get(2, [0, 5], 'x', 'a'), unknown(1, 10, x('a'))]).result).toBe('illegal');
  });
});

describe('checkOperations: budgets and validation', () => {
  // Many concurrent puts of distinct values followed by an impossible read: the search must
  // exhaust every order of the puts (up to the cache) before it can say "illegal".
  const hard = [
    ...Array.from({ length: 10 }, (_, i) => put(i, [0, 100], 'x', `v${i}`)),
    get(99, [200, 201], 'x', 'nope'),
  ];

  it('returns unknown when maxSteps runs out', () => {
    const r = checkOperations(kvModel, hard, { maxSteps: 50 });
    expect(r).toMatchObject({ result: 'unknown', reason: 'maxSteps', steps: 50 });
  });

  it('returns unknown on timeout, polling only the injected clock', () => {
    let t = 0;
    const history = [...hard, put(1, [0, 1], 'y', 'a')];
    const r = checkOperations(kvModel, history, { timeoutMs: 5, now: () => t++ });
    expect(r).toMatchObject({ result: 'unknown', reason: 'timeout' });
    expect(r.partitions.map((p) => [p.key, p.result])).toEqual([
      ['x', 'unknown'],
      ['y', 'unknown'],
    ]);
    expect(r.partitions[1]?.steps).toBe(0);
  });

  it('still finds the violation with enough budget, memoizing equivalent orders', () => {
    const r = checkOperations(kvModel, hard);
    expect(r.result).toBe('illegal');
    // The cache folds the 10! orders of the puts into at most 10·2⁹ (set, state) pairs.
    expect(r.steps).toBeLessThan(100_000);
  });

  it('rejects malformed histories and options', () => {
    expect(() => check([put(1, [5, 4], 'x', 'a')])).toThrow(RaftError);
    expect(() => check([put(1, [Number.NaN, 4], 'x', 'a')])).toThrow(/finite call/);
    expect(() => checkOperations(kvModel, [], { timeoutMs: 5 })).toThrow(/requires a now/);
    expect(() => checkOperations(kvModel, [], { maxSteps: 0 })).toThrow(/maxSteps/);
  });
});

describe('checkOperations with a structured, unpartitioned model', () => {
  type QueueInput = { op: 'enq'; value: string } | { op: 'deq' };
  // A FIFO queue; `deq` returns the head or null. States are arrays, so the model gives `hash`.
  const queueModel: Model<readonly string[], QueueInput, string | null> = {
    init: () => [],
    step: (q, input, output) =>
      input.op === 'enq'
        ? { ok: true, state: [...q, input.value] }
        : { ok: output === (q[0] ?? null), state: q.slice(1) },
    hash: (q) => q.join('\u0000'),
  };
  const op = (c: number, t: [number, number], input: QueueInput, output: string | null = null) => ({
    clientId: c,
    input,
    output,
    call: t[0],
    return: t[1],
  });

  it('accepts concurrent enqueues dequeued in either order', () => {
    const r = checkOperations(queueModel, [
      op(1, [0, 10], { op: 'enq', value: 'a' }),
      op(2, [0, 10], { op: 'enq', value: 'b' }),
      op(1, [11, 12], { op: 'deq' }, 'b'),
      op(2, [13, 14], { op: 'deq' }, 'a'),
    ]);
    expect(r.result).toBe('ok');
    expect(r.partitions[0]?.key).toBeNull();
  });

  it('rejects out-of-order dequeues of sequential enqueues', () => {
    const r = checkOperations(queueModel, [
      op(1, [0, 1], { op: 'enq', value: 'a' }),
      op(1, [2, 3], { op: 'enq', value: 'b' }),
      op(2, [4, 5], { op: 'deq' }, 'b'),
    ]);
    expect(r.result).toBe('illegal');
  });
});

const SEEDS = process.env.LIN_SEED
  ? [Number(process.env.LIN_SEED)]
  : [1, 2, 3, 42, 1337, 2024, 9001, 65535];
const repro = (seed: number) =>
  `seed ${seed}; repro: LIN_SEED=${seed} pnpm vitest run --project raft-core linearizability`;

describe('checkOperations on generated histories', () => {
  it.each(SEEDS)('accepts a linearizable history and rejects one bad read (seed %i)', (seed) => {
    const history = generate(seed, { clients: 6, opsPerClient: 80, keys: 3, unknownRate: 0.05 });
    const ok = check(history);
    expect(ok.result, repro(seed)).toBe('ok');

    // A read of a value no operation writes cannot be linearized anywhere.
    const rand = mulberry32(seed ^ 0x5eed);
    const reads = history.flatMap((op, i) =>
      op.input.op === 'get' && op.output !== undefined ? [i] : [],
    );
    const victim = reads[Math.floor(rand() * reads.length)]!;
    const mutated = history.map((op, i) =>
      i === victim ? { ...op, output: 'never-written' } : op,
    ) as KvOperation[];
    const bad = check(mutated);
    expect(bad.result, repro(seed)).toBe('illegal');
    if (bad.result !== 'illegal') return;
    expect(
      bad.violations.map((v) => v.key),
      repro(seed),
    ).toEqual([history[victim]?.input.key]);
    expect(bad.violations[0]?.longestPrefix, repro(seed)).not.toContain(victim);
  });

  it('checks 10 keys × 500 ops in a few steps per operation, thanks to partitioning', () => {
    const history = generate(7, { clients: 10, opsPerClient: 500, keys: 10, unknownRate: 0.01 });
    const r = check(history);
    expect(r.result).toBe('ok');
    expect(r.partitions).toHaveLength(10);
    expect(r.steps).toBeLessThan(5 * history.length);
  });

  it('checks 3000 concurrent ops on a single key in a bounded number of steps', () => {
    const history = generate(11, { clients: 6, opsPerClient: 500, keys: 1, unknownRate: 0.01 });
    const r = check(history);
    expect(r.result).toBe('ok');
    expect(r.steps).toBeLessThan(20 * history.length);
  });
});

describe('checkOperations differential tests', () => {
  const { readOnly: _, ...kvModelWithoutHint } = kvModel;

  it('agrees on 1000 random tiny histories, with and without the readOnly hint', () => {
    const rand = mulberry32(0xc0ffee);
    const verdicts = { ok: 0, illegal: 0 };
    for (let i = 0; i < 1000; i++) {
      const history = randomTinyHistory(rand);
      const expected = bruteForceLinearizable(history) ? 'ok' : 'illegal';
      verdicts[expected]++;
      const context = JSON.stringify(history);
      expect(checkOperations(kvModel, history).result, context).toBe(expected);
      expect(checkOperations(kvModelWithoutHint, history).result, context).toBe(expected);
    }
    // Both verdicts are well represented, so the agreement means something.
    expect(Math.min(verdicts.ok, verdicts.illegal)).toBeGreaterThan(200);
  });

  it('gives the same verdict without the readOnly hint on 100 corrupted medium histories', () => {
    const verdicts = { ok: 0, illegal: 0 };
    for (let seed = 1; seed <= 100; seed++) {
      const history = generate(seed, { clients: 4, opsPerClient: 25, keys: 2, unknownRate: 0.1 });
      // Replace one read's output with another value of its key: maybe legal, maybe not.
      const rand = mulberry32(seed);
      const reads = history.flatMap((op, i) => (op.input.op === 'get' ? [i] : []));
      const i = reads[Math.floor(rand() * reads.length)]!;
      const key = history[i]!.input.key;
      const values = history.flatMap((o) =>
        o.input.key === key && o.input.op === 'put' ? [o.input.value] : [],
      );
      const output = values[Math.floor(rand() * (values.length + 1))] ?? null;
      history[i] = { ...history[i]!, output } as KvOperation;
      const expected = checkOperations(kvModelWithoutHint, history).result;
      expect(expected).not.toBe('unknown');
      if (expected !== 'unknown') verdicts[expected]++;
      expect(checkOperations(kvModel, history).result, repro(seed)).toBe(expected);
    }
    expect(Math.min(verdicts.ok, verdicts.illegal)).toBeGreaterThan(10);
  });
});

// Generators and a reference checker.

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface GenOptions {
  clients: number;
  opsPerClient: number;
  keys: number;
  /** Probability that a write times out (return = Infinity); half of those take effect. */
  unknownRate: number;
}

/**
 * Generates a history of a simulated linearizable store: each client issues operations one at
 * a time; each operation takes effect at a random instant within [call, return], and outputs
 * are computed by applying the operations in that order. Timed-out writes take effect at a
 * random later instant, or never.
 */
function generate(seed: number, o: GenOptions): KvOperation[] {
  const rand = mulberry32(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const written = new Map<string, string[]>();
  const planned: { op: KvOperation; at: number }[] = [];
  for (let c = 0; c < o.clients; c++) {
    let t = int(5);
    for (let k = 0; k < o.opsPerClient; k++) {
      const call = t + int(3);
      const duration = int(10);
      const key = `k${int(o.keys)}`;
      const values = written.get(key) ?? [];
      const value = `v${c}.${k}`;
      const r = rand();
      const input: KvInput =
        r < 0.4
          ? { op: 'get', key }
          : r < 0.7
            ? { op: 'put', key, value }
            : r < 0.8
              ? { op: 'delete', key }
              : { op: 'cas', key, from: values[values.length - 1 - int(3)] ?? null, to: value };
      if (input.op === 'put' || input.op === 'cas') written.set(key, [...values, value]);
      const timedOut = input.op !== 'get' && rand() < o.unknownRate;
      const op = { clientId: c, input, output: undefined, call, return: call + duration };
      if (!timedOut) planned.push({ op: op as KvOperation, at: call + rand() * duration });
      else {
        const lost = { ...op, return: Infinity } as KvOperation;
        // Took effect: at any later instant, even after the client's next operations.
        planned.push({ op: lost, at: rand() < 0.5 ? call + rand() * 50 : Infinity });
      }
      t = call + duration;
    }
  }
  planned.sort((a, b) => a.at - b.at);
  const store = new Map<string, string | null>();
  return planned.map(({ op, at }) => {
    if (at === Infinity) return op;
    const { input } = op;
    const before = store.get(input.key) ?? null;
    const swapped = input.op === 'cas' && before === input.from;
    if (input.op === 'put' || swapped)
      store.set(input.key, input.op === 'put' ? input.value : input.to);
    if (input.op === 'delete') store.set(input.key, null);
    if (op.return === Infinity) return op;
    const output = input.op === 'get' ? before : input.op === 'cas' ? swapped : 'ok';
    return { ...op, output } as KvOperation;
  });
}

/**
 * A reference checker straight from the definition (Herlihy & Wing): try every order that
 * respects real time (`a` precedes `b` iff `a.return < b.call`), without partitioning,
 * memoization or greedy choices. Exponential; for histories of a few operations only.
 */
function bruteForceLinearizable(history: readonly KvOperation[]): boolean {
  const done = new Array<boolean>(history.length).fill(false);
  const search = (store: ReadonlyMap<string, string | null>, left: number): boolean => {
    if (left === 0) return true;
    return history.some((op, i) => {
      if (done[i]) return false;
      if (history.some((p, j) => !done[j] && p.return < op.call)) return false;
      const before = store.get(op.input.key) ?? null;
      const r = kvModel.step(before, op.input, op.output);
      if (!r.ok) return false;
      done[i] = true;
      const found = search(new Map(store).set(op.input.key, r.state), left - 1);
      done[i] = false;
      return found;
    });
  };
  return search(new Map(), history.length);
}

/** A tiny random history with random (often wrong) outputs, over two keys and two values. */
function randomTinyHistory(rand: () => number): KvOperation[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const values = ['a', 'b'];
  return Array.from({ length: 2 + Math.floor(rand() * 5) }, (_, c): KvOperation => {
    const call = Math.floor(rand() * 10);
    const ret = call + Math.floor(rand() * 6);
    const key = pick(['x', 'y']);
    const kind = pick(['get', 'get', 'put', 'delete', 'cas']);
    const maybeUnknown = rand() < 0.2;
    const base = { clientId: c, call, return: maybeUnknown ? Infinity : ret };
    if (kind === 'get')
      return { ...base, input: { op: 'get', key }, output: pick([null, ...values]) };
    if (kind === 'cas') {
      const input = { op: 'cas', key, from: pick([null, ...values]), to: pick(values) } as const;
      return { ...base, input, output: maybeUnknown ? undefined : rand() < 0.5 };
    }
    const input: KvInput =
      kind === 'put' ? { op: 'put', key, value: pick(values) } : { op: 'delete', key };
    return { ...base, input, output: maybeUnknown ? undefined : 'ok' } as KvOperation;
  });
}
