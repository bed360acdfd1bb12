/** KvStore end to end: three real RaftNodes in one process over the in-memory network. */
import { RaftError, RaftNode } from 'raft-core';
import { MemoryLogStorage, MemoryNetwork } from 'raft-core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_MAX_KEY_BYTES,
  KvLimitError,
  type KvResult,
  KvStateMachine,
  KvStore,
} from '../src/index.js';

interface Member {
  node: RaftNode<KvResult>;
  sm: KvStateMachine;
  store: KvStore;
}

let running: RaftNode<KvResult>[] = [];
afterEach(async () => {
  await Promise.all(running.map((n) => n.stop({ transferLeadership: false })));
  running = [];
});

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

async function start(
  net: MemoryNetwork,
  id: string,
  bootstrap?: string[],
  nodeOpts: { snapshotEntries?: number; snapshotKeepEntries?: number } = {},
): Promise<Member> {
  const sm = new KvStateMachine();
  const node = await RaftNode.start<KvResult>({
    id,
    ...(bootstrap !== undefined && { bootstrap }),
    storage: new MemoryLogStorage(),
    transport: net.transport(id),
    stateMachine: sm,
    tickMs: 10,
    ...nodeOpts,
  });
  running.push(node);
  return { node, sm, store: new KvStore(node, sm, { now: () => 1_700_000_000_000 }) };
}

async function cluster(
  nodeOpts: { snapshotEntries?: number; snapshotKeepEntries?: number } = {},
): Promise<{ net: MemoryNetwork; members: Member[]; leader: Member; followers: Member[] }> {
  const net = new MemoryNetwork();
  const ids = ['a', 'b', 'c'];
  const members = await Promise.all(ids.map((id) => start(net, id, ids, nodeOpts)));
  for (;;) {
    const leader = members.find((m) => m.node.status().role === 'leader');
    if (leader) return { net, members, leader, followers: members.filter((m) => m !== leader) };
    await tick();
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('KvStore over three RaftNodes', () => {
  it('put, get, cas, delete and list through the leader', async () => {
    const { leader } = await cluster();
    const kv = leader.store;
    expect(await kv.put('fruit/apple', 'red')).toMatchObject({
      ok: true,
      prev: null,
      current: 'red',
    });
    expect(await kv.put('fruit/banana', 'yellow')).toMatchObject({ ok: true });
    await kv.put('veg/carrot', 'orange');
    expect(await kv.get('fruit/apple')).toBe('red');
    expect(await kv.get('nope')).toBeUndefined();
    expect(await kv.cas('fruit/apple', 'green', 'x')).toMatchObject({ ok: false, current: 'red' });
    expect(await kv.cas('fruit/apple', 'red', 'green')).toMatchObject({
      ok: true,
      prev: 'red',
      current: 'green',
    });
    expect(await kv.cas('fruit/cherry', null, 'dark')).toMatchObject({ ok: true, prev: null });
    expect(await kv.delete('fruit/banana')).toMatchObject({ ok: true, prev: 'yellow' });
    expect(await kv.delete('fruit/banana')).toMatchObject({ ok: false, prev: null });
    expect(await kv.list('fruit/', 10)).toEqual({
      items: [
        { key: 'fruit/apple', value: 'green' },
        { key: 'fruit/cherry', value: 'dark' },
      ],
      more: false,
    });
    expect(await kv.list('', 1, { after: 'fruit/apple' })).toEqual({
      items: [{ key: 'fruit/cherry', value: 'dark' }],
      more: true,
    });
    expect(await kv.get('veg/carrot', { consistency: 'stale' })).toBe('orange');
  });

  it('a linearizable get on a follower sees a write acknowledged by the leader', async () => {
    const { leader, followers } = await cluster();
    for (let i = 0; i < 20; i++) {
      const { index } = await leader.store.put('counter', String(i));
      for (const f of followers) {
        expect(await f.store.get('counter')).toBe(String(i));
        expect(f.sm.appliedIndex).toBeGreaterThanOrEqual(index);
      }
    }
    // A follower cannot write: the node rejects with NotLeader (nothing proposed).
    const err = await rejection((followers[0] as Member).store.put('k', 'v'));
    expect(RaftError.isInstance(err) && err.code).toBe('NotLeader');
  });

  it('a retried put with the same session applies once', async () => {
    const { leader, followers } = await cluster();
    const session = { clientId: 'client-1', seq: 1 };
    const first = await leader.store.put('k', 'v1', { session });
    await leader.store.put('k', 'other');
    const retry = await leader.store.put('k', 'v1', { session });
    expect(retry).toEqual({ ...first, duplicate: true });
    expect(await leader.store.get('k')).toBe('other');
    expect(await (followers[0] as Member).store.get('k')).toBe('other');
    const next = await leader.store.put('k', 'v2', {
      session: { clientId: 'client-1', seq: 2, ack: 2 },
    });
    expect(next.duplicate).toBeUndefined();
    expect(await leader.store.put('k', 'v1', { session })).toMatchObject({
      ok: false,
      error: 'SessionExpired',
    });
    expect(await leader.store.get('k')).toBe('v2');
  });

  it('rejects oversized and invalid input before proposing', async () => {
    const { leader } = await cluster();
    const small = new KvStore(leader.node, leader.sm, { maxKeyBytes: 4, maxValueBytes: 8 });
    const applied = leader.sm.appliedIndex;
    const e1 = await rejection(small.put('héllo', 'v')); // 6 UTF-8 bytes
    expect(e1).toBeInstanceOf(KvLimitError);
    expect(e1).toMatchObject({
      code: 'InvalidArgument',
      limit: 'key',
      maxBytes: 4,
      actualBytes: 6,
    });
    expect(await rejection(small.put('k', '€€€'))).toMatchObject({ limit: 'value' });
    expect(await rejection(small.cas('k', null, '123456789'))).toMatchObject({ limit: 'value' });
    expect(
      await rejection(leader.store.put('k'.repeat(DEFAULT_MAX_KEY_BYTES + 1), '')),
    ).toMatchObject({ limit: 'key' });
    for (const p of [
      leader.store.put('', 'v'),
      leader.store.put('a\uD800', 'v'),
      leader.store.put('k', 42 as unknown as string),
      leader.store.delete(undefined as unknown as string),
      leader.store.cas('k', 7 as unknown as string, 'x'),
      leader.store.put('k', 'v', { session: { clientId: '', seq: 1 } }),
      leader.store.put('k', 'v', { session: { clientId: 'c', seq: 1.5 } }),
      leader.store.get(''),
      leader.store.list('p', -1),
      leader.store.list('p', 1, { consistency: 'eventual' as 'stale' }),
    ]) {
      const e = await rejection(p);
      expect(RaftError.isInstance(e) && e.code).toBe('InvalidArgument');
      expect(e).not.toBeInstanceOf(KvLimitError);
    }
    expect(leader.sm.appliedIndex).toBe(applied);
  });

  it('a new member catches up from a snapshot, with data, sessions and addresses', async () => {
    const { net, leader } = await cluster({ snapshotEntries: 20, snapshotKeepEntries: 5 });
    for (let i = 0; i < 60; i++)
      await leader.store.put(`k${i}`, `v${i}`, { session: { clientId: 'c', seq: i + 1 } });
    const d = await start(net, 'd', undefined, { snapshotEntries: 20, snapshotKeepEntries: 5 });
    const restore = vi.spyOn(d.sm, 'restore');
    await leader.node.addLearner('d', { context: 'd.example:7001' });
    await leader.store.put('last', 'x');
    while (d.sm.get('last') !== 'x') await tick();
    expect(d.sm.size).toBe(61);
    expect(d.sm.get('k0')).toBe('v0');
    expect(d.sm.members().get('d')).toBe('d.example:7001');
    expect(leader.sm.members().get('d')).toBe('d.example:7001');
    expect(d.sm.sessionCount).toBe(1);
    expect(restore).toHaveBeenCalled(); // the leader's log was compacted: InstallSnapshot
  });
});
