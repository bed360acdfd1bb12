import fc from 'fast-check';
import { RaftError } from 'raft-core';
import { describe, expect, it } from 'vitest';
import {
  type CommandMeta,
  decodeKvCommand,
  encodeKvCommand,
  type KvCommand,
} from '../src/index.js';
import { fcParams } from './support/helpers.js';

const str = fc.string({ unit: 'grapheme', maxLength: 20 });
const key = fc.string({ unit: 'binary', minLength: 1, maxLength: 20 });
const value = fc.oneof(str, fc.string({ unit: 'binary', maxLength: 50 }));
const command: fc.Arbitrary<KvCommand> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key, value }),
  fc.record({ op: fc.constant('delete' as const), key }),
  fc.record({ op: fc.constant('cas' as const), key, from: fc.option(value), to: value }),
);
const uint = fc.maxSafeNat();
const meta: fc.Arbitrary<CommandMeta> = fc.oneof(
  fc.record({ time: uint }),
  fc.record({
    time: uint,
    session: fc.oneof(
      fc.record({ clientId: key, seq: uint }),
      uint.chain((seq) =>
        fc.record({ clientId: key, seq: fc.constant(seq), ack: fc.integer({ min: 0, max: seq }) }),
      ),
    ),
  }),
);

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return RaftError.isInstance(e) ? e.code : `untyped: ${String(e)}`;
  }
}

describe('command codec', () => {
  it('round-trips every valid command', () => {
    fc.assert(
      fc.property(command, meta, (c, m) => {
        const bytes = encodeKvCommand(c, m);
        expect(bytes[0]).toBe(1); // version byte
        expect(decodeKvCommand(bytes)).toEqual({ cmd: c, meta: m });
      }),
      fcParams('codec round trip', 500),
    );
  });

  it('is compact', () => {
    const b = encodeKvCommand({ op: 'put', key: 'k', value: 'v' }, { time: 1_700_000_000_000 });
    expect(b.length).toBeLessThanOrEqual(12);
  });

  it('rejects garbage with RaftError InvalidArgument, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const code = codeOf(() => decodeKvCommand(bytes));
        expect(['ok', 'InvalidArgument']).toContain(code);
      }),
      fcParams('codec garbage', 2000),
    );
    fc.assert(
      fc.property(command, meta, fc.nat(), fc.nat(255), (c, m, at, byte) => {
        const bytes = encodeKvCommand(c, m);
        const cut = bytes.subarray(0, at % bytes.length);
        expect(codeOf(() => decodeKvCommand(cut))).toBe('InvalidArgument');
        const flipped = bytes.slice();
        flipped[at % bytes.length] = byte;
        expect(['ok', 'InvalidArgument']).toContain(codeOf(() => decodeKvCommand(flipped)));
      }),
      fcParams('codec truncation', 500),
    );
    const good = encodeKvCommand({ op: 'delete', key: 'k' }, { time: 0 });
    expect(codeOf(() => decodeKvCommand(new Uint8Array()))).toBe('InvalidArgument');
    expect(codeOf(() => decodeKvCommand(Uint8Array.of(2, ...good.subarray(1))))).toBe(
      'InvalidArgument',
    );
    expect(codeOf(() => decodeKvCommand(Uint8Array.of(...good, 0)))).toBe('InvalidArgument');
    // invalid UTF-8 in the key
    expect(codeOf(() => decodeKvCommand(Uint8Array.of(1, 2, 0, 1, 0xff)))).toBe('InvalidArgument');
    // empty key
    expect(codeOf(() => decodeKvCommand(Uint8Array.of(1, 2, 0, 0)))).toBe('InvalidArgument');
  });

  it('rejects invalid commands on encode', () => {
    const enc =
      (c: unknown, m: unknown = { time: 0 }) =>
      () =>
        encodeKvCommand(c as KvCommand, m as CommandMeta);
    expect(codeOf(enc({ op: 'put', key: '', value: 'v' }))).toBe('InvalidArgument');
    expect(codeOf(enc({ op: 'put', key: 'a\uD800', value: 'v' }))).toBe('InvalidArgument');
    expect(codeOf(enc({ op: 'put', key: 'k', value: '\uDC00' }))).toBe('InvalidArgument');
    expect(codeOf(enc({ op: 'put', key: 'k', value: 3 }))).toBe('InvalidArgument');
    expect(codeOf(enc({ op: 'nope', key: 'k' }))).toBe('InvalidArgument');
    expect(codeOf(enc({ op: 'cas', key: 'k', from: undefined, to: 'x' }))).toBe('InvalidArgument');
    expect(codeOf(enc({ op: 'delete', key: 'k' }, { time: -1 }))).toBe('InvalidArgument');
    expect(codeOf(enc({ op: 'delete', key: 'k' }, { time: 1.5 }))).toBe('InvalidArgument');
    expect(
      codeOf(enc({ op: 'delete', key: 'k' }, { time: 0, session: { clientId: '', seq: 1 } })),
    ).toBe('InvalidArgument');
    expect(
      codeOf(enc({ op: 'delete', key: 'k' }, { time: 0, session: { clientId: 'c', seq: -1 } })),
    ).toBe('InvalidArgument');
    expect(
      codeOf(
        enc({ op: 'delete', key: 'k' }, { time: 0, session: { clientId: 'c', seq: 1, ack: 2 } }),
      ),
    ).toBe('InvalidArgument');
  });
});
