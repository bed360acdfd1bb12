/**
 * The key-value routes (apps/kvapi/README.md): goraft's `/set` and `/get`, REST-style `/kv/<key>`,
 * `/cas/<key>` and the prefix listing `/kv?prefix=`. Keys in paths may contain `/`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError, toHttpError, withTimeout } from './http-errors.js';
import {
  bodyJson,
  bodyText,
  enumParam,
  intParam,
  keyFromPath,
  query,
  requireKey,
} from './request.js';
import type { Ctx, Writer } from './writes.js';

const MAX_LIST = 1000;
const TEXT = 'text/plain; charset=utf-8';

export function kvRoutes(app: FastifyInstance, ctx: Ctx, writer: Writer): void {
  const { replica, config } = ctx;
  const store = replica.store;
  const leader = (): { leader: string | null; leaderId: string | null } => replica.leaderInfo();

  const read = async <T>(p: () => Promise<T>, what: string): Promise<T> => {
    try {
      return await withTimeout(p(), config.requestTimeoutMs, what);
    } catch (e) {
      throw toHttpError(e, leader);
    }
  };
  const notFound = (key: string): HttpError =>
    new HttpError(404, 'NotFound', `no such key`, { key });

  app.get('/set', async (req, reply) => {
    const q = query(req.query);
    const key = requireKey(q.key);
    const value = q.value;
    if (value === undefined) throw new HttpError(400, 'MissingValue', 'missing value');
    await writer.run(req, reply, { op: 'put', key, value });
  });

  app.get('/get', async (req, reply) => {
    const q = query(req.query);
    const key = requireKey(q.key);
    const relaxed = enumParam(q, 'relaxed', ['true', 'false'], 'false') === 'true';
    const v = await read(
      () => store.get(key, { consistency: relaxed ? 'stale' : 'linearizable' }),
      'get',
    );
    if (v === undefined) throw notFound(key);
    await reply.type(TEXT).send(v);
  });

  app.get('/kv', async (req, reply) => {
    const q = query(req.query);
    const prefix = q.prefix ?? '';
    const limit = Math.min(intParam(q, 'limit', 100), MAX_LIST);
    const consistency = enumParam(q, 'consistency', ['linearizable', 'stale'], 'linearizable');
    const after = q.after;
    const res = await read(
      () =>
        store.list(prefix, limit, after === undefined ? { consistency } : { consistency, after }),
      'list',
    );
    await reply.send({ items: res.items, more: res.more });
  });

  app.get('/kv/*', async (req, reply) => {
    const key = keyFromPath(req.url, '/kv/');
    const q = query(req.query);
    const consistency = enumParam(q, 'consistency', ['linearizable', 'stale'], 'linearizable');
    const v = await read(() => store.get(key, { consistency }), 'get');
    if (v === undefined) throw notFound(key);
    await reply.type(TEXT).send(v);
  });

  app.put('/kv/*', async (req, reply) => {
    const key = keyFromPath(req.url, '/kv/');
    query(req.query);
    const value = bodyText(req.body);
    await writer.run(req, reply, { op: 'put', key, value });
  });

  app.delete('/kv/*', async (req, reply) => {
    const key = keyFromPath(req.url, '/kv/');
    query(req.query);
    await writer.run(req, reply, { op: 'delete', key });
  });

  app.post('/cas/*', async (req: FastifyRequest, reply) => {
    const key = keyFromPath(req.url, '/cas/');
    query(req.query);
    const b = bodyJson(req.body) as { from?: unknown; to?: unknown } | null;
    if (typeof b !== 'object' || b === null || Array.isArray(b)) {
      throw new HttpError(400, 'InvalidJson', 'body must be {"from": string|null, "to": string}');
    }
    const { from, to } = b;
    if (!(from === null || typeof from === 'string') || typeof to !== 'string') {
      throw new HttpError(400, 'InvalidJson', 'body must be {"from": string|null, "to": string}');
    }
    await writer.run(req, reply, { op: 'cas', key, from, to });
  });
}
