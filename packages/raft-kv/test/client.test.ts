/**
 * KvClient against a real 3-process kvapi cluster (the harness is kvapi's; the processes run
 * from source). Faults the cluster cannot produce on demand (a lost response, a silent
 * server) are injected with a fetch wrapper and a local socket server.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../../../apps/kvapi/test/support/cluster.js';
import {
  KvCasFailedError,
  KvClient,
  KvNotAppliedError,
  KvOutcomeUnknownError,
} from '../src/index.js';

let c: ProcessCluster;

// Three kvapi processes starting and electing a leader: the helper's own waits are 30 s, so the
// hook must not give up first (10 s by default) on a loaded machine.
beforeAll(async () => {
  c = await ProcessCluster.start({ extraArgs: ['--max-value-bytes', '1000'] });
}, 60_000);

afterAll(async () => {
  await c?.destroy();
});

describe('KvClient', () => {
  it('put, get, delete, cas, list and status', async () => {
    const client = new KvClient({ endpoints: c.urls() });
    const w = await client.put('cl/a', 'x y/z é');
    expect(w.index).toBeGreaterThan(0);
    expect(await client.get('cl/a')).toBe('x y/z é');
    expect(await client.get('cl/a', { consistency: 'stale' })).toBeDefined();
    expect(await client.get('cl/missing')).toBeUndefined();
    await client.cas('cl/b', null, '1');
    await client.cas('cl/b', '1', '2');
    const err = await client.cas('cl/b', '1', '3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvCasFailedError);
    expect((err as KvCasFailedError).current).toBe('2');
    expect(await client.list('cl/')).toEqual({
      items: [
        { key: 'cl/a', value: 'x y/z é' },
        { key: 'cl/b', value: '2' },
      ],
      more: false,
    });
    expect((await client.list('cl/', { limit: 1 })).more).toBe(true);
    expect((await client.delete('cl/a')).deleted).toBe(true);
    expect((await client.delete('cl/a')).deleted).toBe(false);
    const st = await client.status();
    expect(typeof st.leader).toBe('string');
  });

  it('surfaces 4xx as KvNotAppliedError without retrying', async () => {
    let calls = 0;
    const client = new KvClient({
      endpoints: c.urls(),
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
    });
    const err = await client.put('cl/big', 'v'.repeat(2000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvNotAppliedError);
    expect((err as KvNotAppliedError).status).toBe(413);
    expect(calls).toBe(1);
  });

  it('retries a lost response with the same seq, and the write applies once', async () => {
    let dropped = 0;
    const client = new KvClient({
      endpoints: c.urls(),
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        if (dropped === 0 && init?.method === 'POST') {
          dropped++;
          await res.text();
          throw new TypeError('fetch failed (response lost)');
        }
        return res;
      },
    });
    // Applied twice, the second CAS from null would fail with 409.
    const r = await client.cas('cl/once', null, 'v');
    expect(dropped).toBe(1);
    expect(r.duplicate).toBe(true);
    expect(await client.get('cl/once')).toBe('v');
  });

  it('skips a dead endpoint and survives losing the leader', async () => {
    const dead = 'http://127.0.0.1:2'; // nothing listens on port 2
    const client = new KvClient({ endpoints: [dead, ...c.urls()], timeoutMs: 20_000 });
    await client.put('cl/l', '1');
    const leader = await c.waitLeader();
    await c.kill(leader);
    await client.put('cl/l', '2');
    expect(await client.get('cl/l')).toBe('2');
    await c.restart(leader);
    await c.waitLeader();
  });

  it('fails with KvNotAppliedError when no node is reachable, within the timeout', async () => {
    // NB: port 2, where nothing listens (fetch refuses port 1 outright). A port from freePort()
    // was free when asked, but a test running in parallel could bind it before the put.
    const client = new KvClient({
      endpoints: ['http://127.0.0.1:2'],
      timeoutMs: 1500,
    });
    const t0 = Date.now();
    const err = await client.put('cl/x', '1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvNotAppliedError);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('fails with KvOutcomeUnknownError when a server never answers, within the timeout', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const client = new KvClient({
        endpoints: [`http://127.0.0.1:${port}`],
        timeoutMs: 1500,
        attemptTimeoutMs: 500,
      });
      const t0 = Date.now();
      const err = await client.put('cl/x', '1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KvOutcomeUnknownError);
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      silent.close();
    }
  });
});
