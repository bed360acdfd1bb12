import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH, http, ProcessCluster, sleep } from './support/cluster.js';

let c: ProcessCluster;
let leader: string;
let followers: string[];

beforeAll(async () => {
  c = await ProcessCluster.start({
    extraArgs: ['--max-value-bytes', '4096', '--headers-timeout-ms', '1500'],
  });
  leader = await c.waitLeader();
  followers = c.ids.filter((id) => id !== leader);
});

afterAll(async () => {
  await c?.destroy();
});

describe('goraft README flow', () => {
  it('sets on one node and gets the value on every node', async () => {
    const set = await http(`${c.url(followers[0] as string)}/set?key=x&value=1`);
    expect(set.status).toBe(200);
    for (const id of c.ids) {
      const get = await http(`${c.url(id)}/get?key=x`);
      expect(get).toMatchObject({ status: 200, body: '1' });
    }
    const relaxed = await http(`${c.url(leader)}/get?key=x&relaxed=true`);
    expect(relaxed).toMatchObject({ status: 200, body: '1' });
    expect((await http(`${c.url(leader)}/get?key=missing`)).status).toBe(404);
  });
});

describe('REST routes through followers', () => {
  it('PUT, GET, DELETE, CAS and list work on every node', async () => {
    const [f1, f2] = followers as [string, string];
    const put = await http(`${c.url(f1)}/kv/dir%2Fa`, { method: 'PUT', body: 'héllo' });
    expect(put.status).toBe(200);
    expect(put.json().index).toBeGreaterThan(0);
    expect(await http(`${c.url(f2)}/kv/dir/a`)).toMatchObject({ status: 200, body: 'héllo' });
    expect(await http(`${c.url(f2)}/kv/dir/a?consistency=stale`)).toMatchObject({ status: 200 });
    await http(`${c.url(f2)}/kv/dir/b`, { method: 'PUT', body: '2' });
    await http(`${c.url(leader)}/kv/other`, { method: 'PUT', body: '3' });

    const list = await http(`${c.url(f1)}/kv?prefix=dir/&limit=1`);
    expect(list.json()).toEqual({ items: [{ key: 'dir/a', value: 'héllo' }], more: true });
    const all = await http(`${c.url(f2)}/kv?prefix=dir/`);
    expect(all.json()).toEqual({
      items: [
        { key: 'dir/a', value: 'héllo' },
        { key: 'dir/b', value: '2' },
      ],
      more: false,
    });

    const cas = (from: string | null, to: string) =>
      http(`${c.url(f1)}/cas/dir/b`, { method: 'POST', body: JSON.stringify({ from, to }) });
    const ok = await cas('2', '20');
    expect(ok.status).toBe(200);
    const failed = await cas('2', '21');
    expect(failed.status).toBe(409);
    expect(failed.json()).toMatchObject({ error: 'CasFailed', current: '20' });
    expect(
      (await http(`${c.url(f2)}/cas/new`, { method: 'POST', body: '{"from":null,"to":"n"}' }))
        .status,
    ).toBe(200);

    const del = await http(`${c.url(f2)}/kv/dir/a`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(del.json()).toMatchObject({ deleted: true });
    const get = await http(`${c.url(f1)}/kv/dir/a`);
    expect(get.status).toBe(404);
    expect(get.json().error).toBe('NotFound');
  });

  it('status and metrics describe the cluster', async () => {
    const s = (await http(`${c.url(leader)}/status`)).json();
    expect(s).toMatchObject({ id: leader, role: 'leader', leader });
    for (const k of ['term', 'commitIndex', 'appliedIndex', 'lastIndex']) {
      expect(typeof s[k]).toBe('number');
    }
    expect((s.members as unknown[]).length).toBe(3);
    expect((s.peers as unknown[]).length).toBe(2);
    const m = await http(`${c.url(followers[0] as string)}/metrics`);
    expect(m.status).toBe(200);
    for (const name of [
      'kvapi_raft_role',
      'kvapi_raft_term',
      'kvapi_raft_commit_index',
      'kvapi_raft_applied_index',
      'kvapi_proposals_total',
      'kvapi_commit_latency_seconds',
      'kvapi_raft_elections_total',
      'kvapi_raft_snapshots_total',
      'kvapi_peer_connections_inbound',
      'kvapi_http_request_duration_seconds',
    ]) {
      expect(m.body).toContain(name);
    }
  });
});

describe('client sessions', () => {
  it('a write retried with the same session headers applies once', async () => {
    const headers = { 'x-client-id': 'sess-1', 'x-client-seq': '1' };
    const first = await http(`${c.url(followers[0] as string)}/cas/ctr`, {
      method: 'POST',
      headers,
      body: '{"from":null,"to":"1"}',
    });
    expect(first.status).toBe(200);
    await http(`${c.url(leader)}/kv/ctr`, { method: 'PUT', body: 'changed' });
    // The retry would fail as a fresh CAS; the session answers it from the first result.
    const again = await http(`${c.url(followers[1] as string)}/cas/ctr`, {
      method: 'POST',
      headers,
      body: '{"from":null,"to":"1"}',
    });
    expect(again.status).toBe(200);
    expect(again.json()).toMatchObject({ index: first.json().index, duplicate: true });
    expect((await http(`${c.url(leader)}/kv/ctr`)).body).toBe('changed');
  });
});

describe('bad input: a JSON 4xx, no crash, no effect', () => {
  const long = (n: number): string => 'k'.repeat(n);
  const cases: [string, string, RequestInit, number][] = [
    ['missing key', '/get', {}, 400],
    ['empty key', '/get?key=', {}, 400],
    ['set without value', '/set?key=bad1', {}, 400],
    ['empty key in path', '/kv/', { method: 'PUT', body: 'x' }, 400],
    ['oversized key', `/kv/${long(2000)}`, { method: 'PUT', body: 'x' }, 413],
    ['oversized value', '/kv/bad2', { method: 'PUT', body: long(5000) }, 413],
    ['oversized value in /set', `/set?key=bad3&value=${long(5000)}`, {}, 413],
    ['body over the limit', '/kv/bad4', { method: 'PUT', body: long(200_000) }, 413],
    ['invalid JSON', '/cas/bad5', { method: 'POST', body: '{"from":' }, 400],
    ['CAS without to', '/cas/bad5', { method: 'POST', body: '{"from":null}' }, 400],
    [
      'invalid UTF-8 in the body',
      '/kv/bad6',
      { method: 'PUT', body: new Uint8Array([0xff, 0xfe]) },
      400,
    ],
    ['invalid UTF-8 in the key', '/kv/%ff', { method: 'PUT', body: 'x' }, 400],
    ['invalid UTF-8 in a query value', '/set?key=bad7&value=%c3%28', {}, 400],
    ['unknown route', '/nope', {}, 404],
    ['unknown method', '/kv/bad8', { method: 'POST', body: 'x' }, 405],
    ['non-numeric limit', '/kv?limit=abc', {}, 400],
    ['negative limit', '/kv?limit=-1', {}, 400],
    ['unknown consistency', '/kv/x?consistency=eventual', {}, 400],
    ['unknown relaxed value', '/get?key=x&relaxed=maybe', {}, 400],
    [
      'malformed session seq',
      '/kv/bad9',
      { method: 'PUT', body: 'x', headers: { 'x-client-id': 'a', 'x-client-seq': '-1' } },
      400,
    ],
    [
      'admin without id',
      '/admin/promote',
      { method: 'POST', body: '{}', headers: ADMIN_AUTH },
      400,
    ],
    ['unknown dashboard asset', '/ui/nope.js', {}, 404],
    ['POST to the dashboard', '/ui', { method: 'POST', body: 'x' }, 405],
    ['admin without the token', '/admin/promote', { method: 'POST', body: '{"id":"0"}' }, 401],
    [
      'admin with a wrong token',
      '/admin/promote',
      { method: 'POST', body: '{"id":"0"}', headers: { authorization: 'Bearer nope' } },
      401,
    ],
  ];
  it.each(cases)('%s', async (_name, path, init, status) => {
    for (const id of [leader, followers[0] as string]) {
      const r = await http(`${c.url(id)}${path}`, init);
      expect(r.status).toBe(status);
      expect(typeof r.json().error).toBe('string');
    }
  });

  it('had no effect and every node still serves', async () => {
    const list = await http(`${c.url(leader)}/kv?prefix=bad`);
    expect(list.json()).toEqual({ items: [], more: false });
    for (const id of c.ids) expect((await http(`${c.url(id)}/get?key=x`)).body).toBe('1');
  });

  it('cuts off a slow-loris client and keeps serving', async () => {
    const port = Number(new URL(c.url(leader)).port);
    const sock = connect(port, '127.0.0.1');
    let closed = false;
    sock.on('close', () => {
      closed = true;
    });
    sock.on('error', () => {});
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /get?key=x HTTP/1.1\r\n');
    const started = Date.now();
    const dribble = setInterval(() => {
      if (!closed) sock.write('X-Slow: 1\r\n');
    }, 200);
    try {
      while (!closed && Date.now() - started < 20_000) {
        expect((await http(`${c.url(leader)}/get?key=x`)).body).toBe('1');
        await sleep(250);
      }
    } finally {
      clearInterval(dribble);
      sock.destroy();
    }
    expect(closed).toBe(true);
  });
});
