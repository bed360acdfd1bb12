/**
 * `GET /events`: Server-Sent Events for the dashboard and anyone else. Event types:
 * - `hello` once: `{node, scope, intervalMs, electionTimeoutMs}`;
 * - `status` every `interval` ms: a `/status` body (`StatusJson` in schema.ts) — this node's, and in
 *   `scope=cluster` (the default) also every other member's as relayed from its own stream;
 * - `event`: a `ClusterEvent` (schema.ts) — first the ones still kept, then as they happen;
 * - `reach` (cluster scope): `{id, reachable, since, error?}` per other member, as seen from
 *   this node (its stream to that member works or not).
 * `scope=local` streams only this node's own status and events (what the cluster scope of
 * another node follows). The schema is documented in the README.
 */
import type { FastifyInstance } from 'fastify';
import { ClusterFeed, type FeedMessage } from './cluster-feed.js';
import { EventLog } from './events.js';
import { HttpError } from './http-errors.js';
import { enumParam, intParam, query } from './request.js';
import type { Hello } from './schema.js';
import { formatSse } from './sse.js';
import { buildStatus } from './status.js';
import type { Ctx } from './writes.js';

/** Stop feeding a client that lets this much pile up unread (it reconnects if alive). */
const MAX_BUFFERED = 4 * 1024 * 1024;

/** Open streams per node; more get a 503 (each costs a timer and a status build per interval). */
const MAX_STREAMS = 64;

/** raft-core's default election timeout in ticks (kvapi does not change it). */
const ELECTION_TICKS = 10;

export function eventsRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { replica, config } = ctx;
  const log = new EventLog(replica.node, () => replica.peers(), 500);
  const feed = new ClusterFeed(
    { self: config.node, secret: config.secret, intervalMs: 1000 },
    replica.directory,
    () => {
      const cs = replica.node.status().confState;
      return [...new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing])];
    },
    log,
  );
  const open = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of [...open]) end();
    feed.close();
    log.close();
    done();
  });

  app.get('/events', (req, reply) => {
    const q = query(req.query);
    const scope = enumParam(q, 'scope', ['cluster', 'local'], 'cluster');
    const intervalMs = Math.max(100, Math.min(60_000, intParam(q, 'interval', 1000)));
    if (open.size >= MAX_STREAMS) {
      throw new HttpError(503, 'TooManyStreams', `${MAX_STREAMS} event streams are open already`);
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Sockets of a long stream must not hit the server's request timeout.
    req.raw.socket.setTimeout(0);
    let ended = false;
    const offs: Array<() => void> = [];
    const end = (): void => {
      if (ended) return;
      ended = true;
      open.delete(end);
      for (const off of offs) off();
      res.end();
    };
    open.add(end);
    const send = (event: string, data: unknown): void => {
      if (ended) return;
      if (res.writableLength > MAX_BUFFERED) {
        res.destroy();
        end();
        return;
      }
      res.write(formatSse(event, data));
    };
    res.write('retry: 1000\n\n');
    const hello: Hello = {
      node: config.node,
      scope,
      intervalMs,
      electionTimeoutMs: config.tickMs * ELECTION_TICKS,
    };
    send('hello', hello);
    for (const e of log.recent()) send('event', e);
    const tick = (): void => {
      try {
        send('status', buildStatus(ctx));
      } catch (e) {
        req.log.warn({ err: String(e) }, 'status snapshot failed');
      }
    };
    tick();
    const timer = setInterval(tick, intervalMs);
    offs.push(() => clearInterval(timer));
    offs.push(log.subscribe((e) => send('event', e)));
    if (scope === 'cluster') {
      const relay = (m: FeedMessage): void => send(m.type, m.data);
      offs.push(feed.subscribe(relay));
      const now = feed.snapshot();
      for (const r of now.reach) send('reach', r);
      for (const s of now.statuses) send('status', s);
    }
    res.on('close', end);
    res.on('error', end);
  });
}
