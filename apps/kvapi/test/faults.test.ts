import { KvClient } from 'raft-kv';
import { afterEach, describe, expect, it } from 'vitest';
import { http, ProcessCluster } from './support/cluster.js';

let c: ProcessCluster | undefined;

afterEach(async () => {
  await c?.destroy();
  c = undefined;
});

describe('crashes and restarts', () => {
  it('keeps writing through the survivors after kill -9 of the leader, and the leader catches up', async () => {
    c = await ProcessCluster.start();
    const leader = await c.waitLeader();
    const client = new KvClient({ endpoints: c.urls(), timeoutMs: 15_000 });
    for (let i = 0; i < 20; i++) await client.put(`k${i}`, `v${i}`);

    await c.kill(leader);
    const survivors = c.aliveIds();
    const afterKill = new KvClient({ endpoints: c.urls(survivors), timeoutMs: 15_000 });
    const t0 = Date.now();
    await afterKill.put('after', 'kill');
    // "Within a few seconds": elections take 0.5-1 s at 50 ms ticks; generous on a loaded box.
    expect(Date.now() - t0).toBeLessThan(10_000);
    let last = 0;
    for (let i = 20; i < 60; i++) last = (await afterKill.put(`k${i}`, `v${i}`)).index;
    const newLeader = await c.waitLeader();
    expect(newLeader).not.toBe(leader);

    await c.restart(leader);
    await c.waitApplied(leader, last);
    for (const i of [0, 19, 20, 59]) {
      const r = await http(`${c.url(leader)}/kv/k${i}?consistency=stale`);
      expect(r.body).toBe(`v${i}`);
    }
    expect((await http(`${c.url(leader)}/get?key=after`)).body).toBe('kill');
  });

  it('every acknowledged write survives stopping and restarting every node', async () => {
    c = await ProcessCluster.start({ extraArgs: ['--snapshot-entries', '50'] });
    const client = new KvClient({ endpoints: c.urls(), timeoutMs: 15_000 });
    const acked = new Map<string, string>();
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        for (let i = 0; i < 40; i++) {
          const key = `w${w}-${i % 13}`;
          const value = `${w}.${i}`;
          await client.put(key, value);
          acked.set(key, value);
        }
      }),
    );
    // Mix of graceful and hard stops.
    const [a, b, d] = c.ids as [string, string, string];
    await c.kill(a);
    expect(await c.terminate(b)).toBe(0);
    await c.kill(d);
    for (const id of c.ids) await c.restart(id);
    await c.waitLeader();
    const after = new KvClient({ endpoints: c.urls(), timeoutMs: 15_000 });
    for (const [k, v] of acked) expect(await after.get(k)).toBe(v);
    const status = (await http(`${c.url(a)}/metrics`)).body;
    expect(status).toContain('kvapi_raft_snapshots_total');
  });

  it('SIGTERM on the leader hands leadership over and exits 0', async () => {
    c = await ProcessCluster.start();
    const leader = await c.waitLeader();
    const client = new KvClient({ endpoints: c.urls(), timeoutMs: 15_000 });
    await client.put('before', 'term');
    expect(await c.terminate(leader)).toBe(0);
    expect(c.logOf(leader)).toMatch(/shutting down/);
    expect(c.logOf(leader)).not.toMatch(/could not hand leadership/);
    const next = await c.waitLeader();
    expect(next).not.toBe(leader);
    const survivors = new KvClient({ endpoints: c.urls(), timeoutMs: 15_000 });
    expect(await survivors.get('before')).toBe('term');
    await survivors.put('after', 'term');
  });
});
