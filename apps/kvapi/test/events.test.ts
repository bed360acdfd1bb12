/**
 * `/events` over a real HTTP client against 3 kvapi processes: the SSE framing, status
 * snapshots with `/status`'s schema from every member (relayed by the node we ask), elections
 * with their reason, and a killed member reported unreachable. Also the bearer-token rule for
 * admin routes.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEvent, Hello, Reachability, StatusJson } from '../src/schema.js';
import { type SseEvent, SseParser } from '../src/sse.js';
import { ADMIN_AUTH, http as fetchHttp, ProcessCluster } from './support/cluster.js';

/** A live `/events` stream: every event so far, and a way to wait for one. */
class Stream {
  readonly events: SseEvent[] = [];
  status = 0;
  contentType = '';
  private waiters: Array<() => void> = [];
  private req: http.ClientRequest;

  constructor(url: string) {
    const parser = new SseParser((e) => {
      this.events.push(e);
      for (const w of this.waiters) w();
    });
    this.req = http.get(url, (res) => {
      this.status = res.statusCode ?? 0;
      this.contentType = String(res.headers['content-type']);
      res.setEncoding('utf8');
      res.on('data', (c: string) => parser.push(c));
    });
    this.req.on('error', () => {});
  }

  /** Resolves with the first event (from the start) that satisfies `pred`. */
  async until<T>(
    what: string,
    pred: (e: SseEvent) => T | undefined,
    timeoutMs = 30_000,
  ): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (let seen = 0; ; ) {
      for (; seen < this.events.length; seen++) {
        const hit = pred(this.events[seen] as SseEvent);
        if (hit !== undefined && hit !== false) return hit;
      }
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
      this.waiters = [];
    }
  }

  close(): void {
    this.req.destroy();
  }
}

const json = <T>(e: SseEvent, type: string): T | undefined =>
  e.event === type ? (JSON.parse(e.data) as T) : undefined;

let c: ProcessCluster;
let leader: string;
let follower: string;

beforeAll(async () => {
  c = await ProcessCluster.start({ extraArgs: ['--snapshot-entries', '20'] });
  leader = await c.waitLeader();
  follower = c.ids.find((id) => id !== leader) as string;
});

afterAll(async () => {
  await c?.destroy();
});

describe('/events', () => {
  it('streams hello, then status snapshots of every member with the /status schema', async () => {
    const s = new Stream(`${c.url(follower)}/events?interval=200`);
    try {
      const hello = await s.until('hello', (e) => json<Hello>(e, 'hello'));
      expect(s.status).toBe(200);
      expect(s.contentType).toMatch(/^text\/event-stream/);
      expect(hello).toMatchObject({ node: follower, scope: 'cluster', intervalMs: 200 });
      expect(hello.electionTimeoutMs).toBeGreaterThan(0);
      const seen = new Map<string, StatusJson>();
      await s.until('a status of every member', (e) => {
        const st = json<StatusJson>(e, 'status');
        if (st !== undefined) seen.set(st.id, st);
        return seen.size === 3 || undefined;
      });
      const direct = (await fetchHttp(`${c.url(follower)}/status`)).json();
      for (const st of seen.values()) {
        expect(Object.keys(st).sort()).toEqual(Object.keys(direct).sort());
      }
      const lead = seen.get(leader) as StatusJson;
      expect(lead.role).toBe('leader');
      expect(lead.peers.map((p) => p.id).sort()).toEqual(c.ids.filter((id) => id !== leader));
      for (const p of lead.peers) {
        expect(p).toMatchObject({ active: true, learner: false });
        expect(typeof p.inflight).toBe('number');
      }
      const reach = await s.until('both others reachable', () => {
        const r = new Map<string, boolean>();
        for (const e of s.events) {
          const x = json<Reachability>(e, 'reach');
          if (x !== undefined) r.set(x.id, x.reachable);
        }
        return r.size === 2 && [...r.values()].every(Boolean) ? r : undefined;
      });
      expect([...reach.keys()].sort()).toEqual(c.ids.filter((id) => id !== follower).sort());
    } finally {
      s.close();
    }
  });

  it('reports a leadership transfer as an election with reason "transfer"', async () => {
    const s = new Stream(`${c.url(follower)}/events`);
    try {
      await s.until('hello', (e) => json<Hello>(e, 'hello'));
      const target = c.ids.find((id) => id !== leader) as string;
      const res = await fetchHttp(`${c.url(follower)}/admin/transfer`, {
        method: 'POST',
        body: JSON.stringify({ id: target }),
        headers: ADMIN_AUTH,
      });
      expect(res.status).toBe(200);
      const won = await s.until('the target winning', (e) => {
        const ev = json<ClusterEvent>(e, 'event');
        return ev?.node === target && ev.kind === 'election' && ev.reason === 'won'
          ? ev
          : undefined;
      });
      expect(won.text).toContain('leadership transfer');
      const campaign = s.events
        .map((e) => json<ClusterEvent>(e, 'event'))
        .find((ev) => ev?.node === target && ev.kind === 'election' && ev.reason === 'transfer');
      expect(campaign?.term).toBe(won.term);
      leader = await c.waitLeader();
      expect(leader).toBe(target);
    } finally {
      s.close();
    }
  });

  it('scope=local streams only the node itself; bad parameters get a 400', async () => {
    const s = new Stream(`${c.url(leader)}/events?scope=local&interval=100`);
    try {
      await s.until('three statuses', () =>
        s.events.filter((e) => e.event === 'status').length >= 3 ? true : undefined,
      );
      const ids = new Set(s.events.flatMap((e) => json<StatusJson>(e, 'status')?.id ?? []));
      expect([...ids]).toEqual([leader]);
      expect(s.events.some((e) => e.event === 'reach')).toBe(false);
    } finally {
      s.close();
    }
    for (const q of ['scope=all', 'interval=-5']) {
      const r = await fetchHttp(`${c.url(leader)}/events?${q}`);
      expect(r.status).toBe(400);
      expect(typeof r.json().error).toBe('string');
    }
  });

  it('reports snapshots as every node takes one', async () => {
    const s = new Stream(`${c.url(follower)}/events`);
    try {
      await s.until('hello', (e) => json<Hello>(e, 'hello'));
      for (let i = 0; i < 25; i++) {
        expect(
          (await fetchHttp(`${c.url(leader)}/kv/snap${i}`, { method: 'PUT', body: 'x' })).status,
        ).toBe(200);
      }
      const takers = new Set<string>();
      await s.until('a snapshot event from every node', (e) => {
        const ev = json<ClusterEvent>(e, 'event');
        if (ev?.kind === 'snapshot' && ev.subject === undefined) {
          expect(ev.index).toBeGreaterThan(0);
          takers.add(ev.node);
        }
        return takers.size === 3 || undefined;
      });
      const st = (await fetchHttp(`${c.url(follower)}/status`)).json();
      expect(st.snapshotIndex as number).toBeGreaterThan(0);
    } finally {
      s.close();
    }
  });

  it('marks a killed member unreachable and names the observer', async () => {
    const victim = c.ids.find((id) => id !== follower && id !== leader) as string;
    const s = new Stream(`${c.url(follower)}/events`);
    try {
      await s.until('victim reachable', (e) => {
        const r = json<Reachability>(e, 'reach');
        return r?.id === victim && r.reachable ? r : undefined;
      });
      await c.kill(victim);
      const r = await s.until('victim unreachable', (e) => {
        const x = json<Reachability>(e, 'reach');
        return x?.id === victim && !x.reachable ? x : undefined;
      });
      expect(typeof r.error).toBe('string');
      const down = await s.until('a down event', (e) => {
        const ev = json<ClusterEvent>(e, 'event');
        return ev?.kind === 'down' && ev.subject === victim ? ev : undefined;
      });
      expect([follower, leader]).toContain(down.node);
      // Removing the dead member is a membership event on the survivors.
      const rm = await fetchHttp(`${c.url(follower)}/admin/remove`, {
        method: 'POST',
        body: JSON.stringify({ id: victim }),
        headers: ADMIN_AUTH,
      });
      expect(rm.status).toBe(200);
      const change = await s.until('a membership event', (e) => {
        const ev = json<ClusterEvent>(e, 'event');
        return ev?.kind === 'membership' && ev.node === follower ? ev : undefined;
      });
      expect(change.text).not.toContain(victim);
      await s.until('the removed member dropped', (e) => {
        const x = json<Reachability>(e, 'reach');
        return x?.id === victim && x.error === 'not a member' ? x : undefined;
      });
    } finally {
      s.close();
    }
  });
});
