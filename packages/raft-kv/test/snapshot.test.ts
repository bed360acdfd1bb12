import { RaftError } from 'raft-core';
import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../src/index.js';
import { Feeder } from './support/helpers.js';

function state(sm: KvStateMachine) {
  return {
    data: sm.list('', Number.MAX_SAFE_INTEGER).items,
    applied: sm.appliedIndex,
    time: sm.time,
    members: [...sm.members()],
    sessions: sm.sessionCount,
  };
}

describe('snapshot and restore', () => {
  it('captures the state at the call, not at resolution', async () => {
    const sm = new KvStateMachine();
    const feed = new Feeder((e) => sm.apply(e));
    for (let i = 0; i < 25_000; i++)
      feed.cmd({ op: 'put', key: `k${i}`, value: `v${i}` }, { time: i });
    feed.cmd({ op: 'delete', key: 'k7' }, { time: 30_000, session: { clientId: 'c1', seq: 1 } });
    const want = state(sm);
    const pending = sm.snapshot();
    // Keep applying while the snapshot serializes.
    for (let i = 0; i < 3000; i++)
      feed.cmd({ op: 'put', key: `k${i}`, value: 'changed' }, { time: 40_000 });
    feed.cmd({ op: 'delete', key: 'k1' }, { time: 50_000, session: { clientId: 'c2', seq: 1 } });
    feed.cmd({ op: 'put', key: 'new', value: 'x' });
    const bytes = await pending;
    const copy = new KvStateMachine();
    copy.restore(bytes);
    expect(state(copy)).toEqual(want);
    expect(copy.get('k1')).toBe('v1');
    expect(sm.get('k1')).toBeUndefined();
    // The restored machine carries on like the original would have.
    const again = new KvStateMachine();
    again.restore(await sm.snapshot());
    expect(state(again)).toEqual(state(sm));
  });

  it('snapshots of an empty machine restore', async () => {
    const copy = new KvStateMachine();
    copy.restore(await new KvStateMachine().snapshot());
    expect(copy.size).toBe(0);
    expect(copy.appliedIndex).toBe(0);
  });

  it('serializes 200k keys in chunks, yielding to the event loop, while applies go on', async () => {
    const sm = new KvStateMachine();
    const feed = new Feeder((e) => sm.apply(e));
    for (let i = 0; i < 200_000; i++) feed.cmd({ op: 'put', key: `key-${i}`, value: `value-${i}` });
    const want = state(sm);
    let turns = 0;
    let applied = 0;
    let running = true;
    const spin = (): void => {
      turns++;
      feed.cmd({ op: 'put', key: `key-${applied}`, value: 'during' });
      applied++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const bytes = await sm.snapshot();
    running = false;
    expect(turns).toBeGreaterThanOrEqual(10); // ≥ one event-loop turn per 10k-key chunk (20 chunks)
    expect(applied).toBeGreaterThan(0);
    const copy = new KvStateMachine();
    copy.restore(bytes);
    expect(state(copy)).toEqual(want);
  });

  it('rejects corrupt, truncated and foreign snapshots with a clear error, keeping the state', async () => {
    const sm = new KvStateMachine();
    const feed = new Feeder((e) => sm.apply(e));
    for (let i = 0; i < 100; i++) feed.cmd({ op: 'put', key: `k${i}`, value: `v${i}` });
    const good = await sm.snapshot();
    const target = new KvStateMachine();
    new Feeder((e) => target.apply(e)).cmd({ op: 'put', key: 'mine', value: '1' });
    const bad: [Uint8Array, RegExp][] = [
      [good.subarray(0, good.length - 1), /checksum/],
      [good.subarray(0, 3), /too short/],
      [new Uint8Array(), /too short/],
      [Uint8Array.from(good, (b, i) => (i === 40 ? b ^ 1 : b)), /checksum/],
      [Uint8Array.from(good, (b, i) => (i === 4 ? 9 : b)), /unsupported version 9/],
      [Uint8Array.from(good, (b, i) => (i === 0 ? 0 : b)), /bad magic/],
      [new TextEncoder().encode('{"not":"a snapshot"}'), /bad magic/],
    ];
    for (const [bytes, msg] of bad) {
      let err: unknown;
      try {
        target.restore(bytes);
      } catch (e) {
        err = e;
      }
      expect(RaftError.isInstance(err) && err.code).toBe('InvalidArgument');
      expect((err as Error).message).toMatch(/corrupt raft-kv snapshot/);
      expect((err as Error).message).toMatch(msg);
    }
    expect(target.get('mine')).toBe('1');
    expect(target.size).toBe(1);
  });
});
