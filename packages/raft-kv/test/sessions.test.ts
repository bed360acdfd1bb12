import { describe, expect, it } from 'vitest';
import { cmdEntry, Feeder } from './support/helpers.js';
import { type Entry, KvStateMachine, type KvStateMachineOptions } from './support/kv.js';

function machine(options: KvStateMachineOptions = {}) {
  const sm = new KvStateMachine(options);
  const log: Entry[] = [];
  const feed = new Feeder((e) => {
    log.push(e);
    return sm.apply(e);
  });
  return { sm, feed, log };
}

const put = (key: string, value: string) => ({ op: 'put' as const, key, value });

describe('client sessions (thesis §6.3)', () => {
  it('answers a duplicate from the table without applying it again', () => {
    const { sm, feed } = machine();
    const first = feed.cmd(
      { op: 'cas', key: 'k', from: null, to: 'a' },
      { time: 1, session: { clientId: 'c', seq: 1 } },
    );
    expect(first).toEqual({ index: 1, ok: true, prev: null, current: 'a' });
    feed.cmd(put('k', 'b')); // someone else writes in between
    const retry = feed.cmd(
      { op: 'cas', key: 'k', from: null, to: 'a' },
      { time: 2, session: { clientId: 'c', seq: 1 } },
    );
    expect(retry).toEqual({ index: 1, ok: true, prev: null, current: 'a', duplicate: true });
    expect(sm.get('k')).toBe('b'); // not applied again
  });

  it('ack discards earlier results; a discarded seq is SessionExpired', () => {
    const { sm, feed } = machine();
    const s = (seq: number, ack?: number) => ({
      time: 1,
      session: { clientId: 'c', seq, ...(ack !== undefined && { ack }) },
    });
    feed.cmd(put('a', '1'), s(1));
    feed.cmd(put('b', '1'), s(2));
    expect(feed.cmd(put('a', '2'), s(1))).toMatchObject({ duplicate: true, current: '1' });
    feed.cmd(put('c', '1'), s(3, 3)); // client saw 1 and 2
    expect(feed.cmd(put('a', '3'), s(1))).toEqual({
      index: 5,
      ok: false,
      prev: null,
      current: null,
      error: 'SessionExpired',
    });
    expect(feed.cmd(put('b', '3'), s(2))).toMatchObject({ error: 'SessionExpired' });
    expect(feed.cmd(put('c', '9'), s(3))).toMatchObject({ duplicate: true, index: 4 });
    expect([sm.get('a'), sm.get('b'), sm.get('c')]).toEqual(['1', '1', '1']);
  });

  it('bounds results per session, evicting the oldest', () => {
    const { sm, feed } = machine({ maxResultsPerSession: 3 });
    for (let seq = 1; seq <= 5; seq++)
      feed.cmd(put(`k${seq}`, 'v'), { time: 1, session: { clientId: 'c', seq } });
    expect(
      feed.cmd(put('k1', 'again'), { time: 1, session: { clientId: 'c', seq: 2 } }),
    ).toMatchObject({ error: 'SessionExpired' });
    expect(
      feed.cmd(put('k3', 'again'), { time: 1, session: { clientId: 'c', seq: 3 } }),
    ).toMatchObject({ duplicate: true });
    expect(sm.get('k1')).toBe('v');
  });

  it('expires sessions by log time only, identically on every replica', () => {
    const a = machine({ sessionTtlMs: 1000 });
    a.feed.cmd(put('x', '1'), { time: 10_000, session: { clientId: 'old', seq: 1 } });
    a.feed.cmd(put('y', '1'), { time: 10_500, session: { clientId: 'mid', seq: 1 } });
    a.feed.cmd(put('z', '1'), { time: 9_000 }); // a stale leader clock never moves time back
    expect(a.sm.time).toBe(10_500);
    a.feed.cmd(put('z', '2'), { time: 11_001 }); // 'old' idle > 1000 ms of log time
    expect(a.sm.sessionCount).toBe(1);
    // Unknown again: starts a new session, so the retry is applied (documented trade-off).
    expect(
      a.feed.cmd(put('x', '2'), { time: 11_002, session: { clientId: 'old', seq: 1 } }),
    ).toMatchObject({ ok: true, prev: '1' });
    expect(
      a.feed.cmd(put('y', '2'), { time: 11_002, session: { clientId: 'mid', seq: 1 } }),
    ).toMatchObject({ duplicate: true });

    // A replica fed the same entries, at a different wall-clock moment, ends up identical.
    const b = machine({ sessionTtlMs: 1000 });
    for (const e of a.log) b.sm.apply(e);
    expect(b.sm.sessionCount).toBe(a.sm.sessionCount);
    expect(b.sm.time).toBe(a.sm.time);
    for (const e of [
      cmdEntry(99, put('q', '1'), { time: 11_003, session: { clientId: 'mid', seq: 1 } }),
    ]) {
      expect(b.sm.apply(e)).toEqual(a.sm.apply(e));
    }
  });

  it('evicts the least recently used session over maxSessions', () => {
    const { sm, feed } = machine({ maxSessions: 2 });
    feed.cmd(put('a', '1'), { time: 1, session: { clientId: 'A', seq: 1 } });
    feed.cmd(put('b', '1'), { time: 1, session: { clientId: 'B', seq: 1 } });
    feed.cmd(put('a', '2'), { time: 1, session: { clientId: 'A', seq: 2 } }); // A used last
    feed.cmd(put('c', '1'), { time: 1, session: { clientId: 'C', seq: 1 } }); // evicts B
    expect(sm.sessionCount).toBe(2);
    expect(feed.cmd(put('a', 'x'), { time: 1, session: { clientId: 'A', seq: 2 } })).toMatchObject({
      duplicate: true,
    });
    expect(feed.cmd(put('b', 'x'), { time: 1, session: { clientId: 'B', seq: 1 } })).toMatchObject({
      ok: true,
      prev: '1',
    });
  });

  it('sessions survive snapshot and restore', async () => {
    const { sm, feed } = machine({ sessionTtlMs: 1000 });
    feed.cmd({ op: 'delete', key: 'k' }, { time: 100, session: { clientId: 'c', seq: 7 } });
    feed.cmd(put('k', 'v'), { time: 200, session: { clientId: 'd', seq: 1 } });
    feed.cmd(put('k', 'w'), { time: 300, session: { clientId: 'd', seq: 2, ack: 2 } });
    const copy = new KvStateMachine({ sessionTtlMs: 1000 });
    copy.restore(await sm.snapshot());
    expect(copy.sessionCount).toBe(2);
    const retry = cmdEntry(
      10,
      { op: 'delete', key: 'k' },
      { time: 400, session: { clientId: 'c', seq: 7 } },
    );
    expect(copy.apply(retry)).toEqual({
      index: 1,
      ok: false,
      prev: null,
      current: null,
      duplicate: true,
    });
    expect(
      copy.apply(cmdEntry(11, put('k', 'z'), { time: 400, session: { clientId: 'd', seq: 1 } })),
    ).toMatchObject({ error: 'SessionExpired' });
    // …and expire on the same log-time schedule (both last active at 400, TTL 1000)
    copy.apply(cmdEntry(12, put('t', '1'), { time: 1401 }));
    expect(copy.sessionCount).toBe(0);
    expect(copy.get('k')).toBe('w');
  });

  it('never throws on undecodable entries; leader no-ops are neutral', () => {
    const { sm } = machine();
    expect(sm.apply({ index: 1, term: 1, type: 0, data: Uint8Array.of(1, 2, 3) })).toEqual({
      index: 1,
      ok: false,
      prev: null,
      current: null,
      error: 'InvalidCommand',
    });
    expect(sm.apply({ index: 2, term: 1, type: 0, data: new Uint8Array() })).toEqual({
      index: 2,
      ok: true,
      prev: null,
      current: null,
    });
    expect(sm.apply({ index: 3, term: 1, type: 1, data: Uint8Array.of(0xff) })).toMatchObject({
      index: 3,
      ok: true,
    });
    expect(sm.appliedIndex).toBe(3);
  });
});
