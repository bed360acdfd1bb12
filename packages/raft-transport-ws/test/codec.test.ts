import fc from 'fast-check';
import { type ConfState, type Entry, MESSAGE_TYPES, type Message } from 'raft-core';
import { describe, expect, it } from 'vitest';
import { CODEC_VERSION, decodeMessages, encodeMessages, WsTransportError } from '../src/index.js';

/** Seeded runs: set FC_SEED to replay; a failure prints the seed and a one-line repro. */
const SEED = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);

function check<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  predicate: (value: T) => void,
  numRuns = 300,
): void {
  try {
    fc.assert(fc.property(arb, predicate), { seed: SEED, numRuns });
  } catch (e) {
    const repro = `FC_SEED=${SEED} pnpm vitest run --project raft-transport-ws test/codec.test.ts -t ${JSON.stringify(name)}`;
    console.error(`codec property "${name}" failed with seed ${SEED}; repro:\n  ${repro}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries: every message type with any value the types allow.

const uint = fc.oneof(
  fc.nat({ max: 300 }),
  fc.nat(),
  fc.maxSafeNat(),
  fc.constant(Number.MAX_SAFE_INTEGER),
);
const id = fc.oneof(
  fc.constantFrom('a', 'n1', 'node-2'),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const data = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ minLength: 100, maxLength: 3000 }),
);
const entry: fc.Arbitrary<Entry> = fc.record({
  index: uint,
  term: uint,
  type: fc.constantFrom(0 as const, 1 as const),
  data,
});
const confState: fc.Arbitrary<ConfState> = fc.record({
  voters: fc.array(id, { maxLength: 5 }),
  learners: fc.array(id, { maxLength: 3 }),
  votersOutgoing: fc.array(id, { maxLength: 3 }),
  learnersNext: fc.array(id, { maxLength: 3 }),
  autoLeave: fc.boolean(),
});
const base = { from: id, to: id, term: uint };

const arbitraries: { [T in Message['type']]: fc.Arbitrary<Message & { type: T }> } = {
  MsgApp: fc.record({
    type: fc.constant('MsgApp'),
    ...base,
    index: uint,
    logTerm: uint,
    entries: fc.array(entry, { maxLength: 12 }),
    commit: uint,
  }),
  MsgAppResp: fc.record({
    type: fc.constant('MsgAppResp'),
    ...base,
    index: uint,
    reject: fc.boolean(),
    hintIndex: uint,
    hintTerm: uint,
  }),
  MsgVote: fc.record({
    type: fc.constant('MsgVote'),
    ...base,
    index: uint,
    logTerm: uint,
    transfer: fc.boolean(),
  }),
  MsgPreVote: fc.record({
    type: fc.constant('MsgPreVote'),
    ...base,
    index: uint,
    logTerm: uint,
    transfer: fc.boolean(),
  }),
  MsgVoteResp: fc.record({ type: fc.constant('MsgVoteResp'), ...base, reject: fc.boolean() }),
  MsgPreVoteResp: fc.record({ type: fc.constant('MsgPreVoteResp'), ...base, reject: fc.boolean() }),
  MsgHeartbeat: fc.record({
    type: fc.constant('MsgHeartbeat'),
    ...base,
    commit: uint,
    context: uint,
  }),
  MsgHeartbeatResp: fc.record({ type: fc.constant('MsgHeartbeatResp'), ...base, context: uint }),
  MsgSnap: fc.record({
    type: fc.constant('MsgSnap'),
    ...base,
    meta: fc.record({ index: uint, term: uint, confState }),
    offset: uint,
    totalBytes: uint,
    data,
    done: fc.boolean(),
  }),
  MsgSnapResp: fc.record({
    type: fc.constant('MsgSnapResp'),
    ...base,
    index: uint,
    offset: uint,
    reject: fc.boolean(),
  }),
  MsgTimeoutNow: fc.record({ type: fc.constant('MsgTimeoutNow'), ...base }),
  MsgReadIndex: fc.record({ type: fc.constant('MsgReadIndex'), ...base, context: uint }),
  MsgReadIndexResp: fc.record({
    type: fc.constant('MsgReadIndexResp'),
    ...base,
    context: uint,
    index: uint,
    reject: fc.boolean(),
  }),
};
const anyMessage: fc.Arbitrary<Message> = fc.oneof(...Object.values(arbitraries));
const batch = fc.array(anyMessage, { minLength: 1, maxLength: 8 });

/** Only ever messages or a typed Decode error; a decoded frame re-encodes to an equal frame. */
function decodesSafely(bytes: Uint8Array): void {
  let decoded: Message[];
  try {
    decoded = decodeMessages(bytes);
  } catch (e) {
    if (!(WsTransportError.isInstance(e) && e.reason === 'Decode')) throw e;
    return;
  }
  expect(decodeMessages(encodeMessages(decoded))).toEqual(decoded);
}

describe('codec round trip', () => {
  it('covers every message type', () => {
    expect(Object.keys(arbitraries).sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  for (const type of MESSAGE_TYPES) {
    it(`round-trips ${type} field for field`, () => {
      check(`round-trips ${type}`, arbitraries[type] as fc.Arbitrary<Message>, (m) => {
        expect(decodeMessages(encodeMessages([m]))).toEqual([m]);
      });
    });
  }

  it('round-trips mixed batches', () => {
    check('round-trips mixed batches', batch, (ms) => {
      const frame = encodeMessages(ms);
      expect(frame[0]).toBe(CODEC_VERSION);
      expect(decodeMessages(frame)).toEqual(ms);
    });
  });

  it('round-trips large entries and an empty batch', () => {
    const big: Message = {
      type: 'MsgApp',
      from: 'a',
      to: 'b',
      term: 1,
      index: 0,
      logTerm: 0,
      commit: 0,
      entries: [{ index: 1, term: 1, type: 0, data: new Uint8Array(5 * 1024 * 1024).fill(7) }],
    };
    const [got] = decodeMessages(encodeMessages([big])) as [typeof big];
    const data = got.entries[0]!.data;
    // NB: Buffer#equals, not toEqual: vitest compares a 5 MiB array element by element for a minute.
    expect(
      Buffer.from(data.buffer, data.byteOffset, data.length).equals(big.entries[0]!.data),
    ).toBe(true);
    expect({ ...got, entries: [] }).toEqual({ ...big, entries: [] });
    expect(decodeMessages(encodeMessages([]))).toEqual([]);
  });

  it('decoded byte fields never alias the input buffer', () => {
    const m: Message = {
      type: 'MsgApp',
      from: 'a',
      to: 'b',
      term: 1,
      index: 0,
      logTerm: 0,
      commit: 0,
      entries: [{ index: 1, term: 1, type: 0, data: Uint8Array.of(1, 2, 3) }],
    };
    const frame = encodeMessages([m]);
    const [decoded] = decodeMessages(frame) as [typeof m];
    frame.fill(0);
    expect(decoded.entries[0]!.data).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('pins the wire format of a heartbeat (README "Wire format")', () => {
    const frame = encodeMessages([
      { type: 'MsgHeartbeat', from: 'a', to: 'b', term: 300, commit: 5, context: 0 },
    ]);
    // version 1, count 1, type 7, "a", "b", term 300 = 0xac 0x02, commit 5, context 0
    expect([...frame]).toEqual([1, 1, 7, 1, 0x61, 1, 0x62, 0xac, 0x02, 5, 0]);
  });
});

describe('codec rejects what it cannot carry', () => {
  const hb = { type: 'MsgHeartbeat', from: 'a', to: 'b', term: 1, commit: 0, context: 0 } as const;
  const bad: Array<[string, unknown]> = [
    ['a negative term', { ...hb, term: -1 }],
    ['a fractional commit', { ...hb, commit: 1.5 }],
    ['an unsafe integer', { ...hb, context: 2 ** 53 }],
    ['NaN', { ...hb, term: Number.NaN }],
    ['a lone surrogate in an id', { ...hb, from: 'a\ud800' }],
    ['a non-string id', { ...hb, to: 7 }],
    ['an unknown type', { ...hb, type: 'MsgNope' }],
    [
      'entry type 2',
      {
        type: 'MsgApp',
        from: 'a',
        to: 'b',
        term: 1,
        index: 0,
        logTerm: 0,
        commit: 0,
        entries: [{ index: 1, term: 1, type: 2, data: new Uint8Array() }],
      },
    ],
    [
      'non-bytes data',
      {
        type: 'MsgApp',
        from: 'a',
        to: 'b',
        term: 1,
        index: 0,
        logTerm: 0,
        commit: 0,
        entries: [{ index: 1, term: 1, type: 0, data: [1, 2] }],
      },
    ],
    ['a non-boolean flag', { type: 'MsgVoteResp', from: 'a', to: 'b', term: 1, reject: 1 }],
  ];
  for (const [what, m] of bad) {
    it(`throws Encode for ${what}`, () => {
      expect(() => encodeMessages([m as Message])).toThrow(
        expect.objectContaining({ name: 'WsTransportError', code: 'Transport', reason: 'Encode' }),
      );
    });
  }

  const frames: Array<[string, number[]]> = [
    ['an empty buffer', []],
    ['another version', [2, 0]],
    ['a non-canonical varint', [1, 1, 7, 1, 0x61, 1, 0x62, 0x81, 0x00, 0, 0]],
    [
      'a varint above 2^53 - 1',
      [1, 1, 7, 1, 0x61, 1, 0x62, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0],
    ],
    [
      'a 9-byte varint',
      [1, 1, 7, 1, 0x61, 1, 0x62, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0],
    ],
    ['trailing bytes', [1, 1, 7, 1, 0x61, 1, 0x62, 1, 0, 0, 99]],
    ['a truncated message', [1, 1, 7, 1, 0x61, 1, 0x62, 1, 0]],
    ['an unknown type code', [1, 1, 99, 1, 0x61, 1, 0x62, 1]],
    ['a boolean byte 2', [1, 1, 5, 1, 0x61, 1, 0x62, 1, 2]],
    ['invalid UTF-8', [1, 1, 7, 1, 0xff, 1, 0x62, 1, 0, 0]],
    ['a huge message count', [1, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    ['a huge entry count', [1, 1, 1, 1, 0x61, 1, 0x62, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]],
  ];
  for (const [what, bytes] of frames) {
    it(`throws Decode for ${what}`, () => {
      expect(() => decodeMessages(Uint8Array.from(bytes))).toThrow(
        expect.objectContaining({ name: 'WsTransportError', reason: 'Decode' }),
      );
    });
  }
});

describe('decoder fuzz', () => {
  it('random bytes: only messages or a typed Decode error', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.of(CODEC_VERSION, ...b)),
      fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.of(CODEC_VERSION, 1, ...b)),
    );
    check('random bytes', bytes, decodesSafely, 3000);
  });

  it('mutated valid frames: only messages or a typed Decode error', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.nat(255) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    );
    const mutated = fc
      .tuple(batch, fc.array(mutation, { minLength: 1, maxLength: 4 }))
      .map(([ms, muts]) => {
        let b = [...encodeMessages(ms)];
        for (const m of muts) {
          const at = m.at % (b.length + 1);
          if (m.kind === 'flip' && at < b.length) b[at]! ^= 1 << m.bit;
          else if (m.kind === 'set' && at < b.length) b[at] = m.value;
          else if (m.kind === 'truncate') b = b.slice(0, at);
          else if (m.kind === 'insert') b.splice(at, 0, m.value);
          else if (m.kind === 'delete') b.splice(at, 1);
        }
        return Uint8Array.from(b);
      });
    check('mutated frames', mutated, decodesSafely, 2000);
  });
});
