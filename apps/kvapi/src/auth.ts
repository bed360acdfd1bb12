/**
 * HTTP authentication with the cluster secret. Without `--secret` every route is open, as in
 * goraft. With it, the admin routes (membership, leadership) need `Authorization: Bearer
 * <secret>`; `--http-auth all` extends that to every route — reads, writes, `/status`,
 * `/events`, `/metrics` — except the `/ui` page and its assets, which must load so the page can
 * ask for the token. A follower relays requests with the secret itself (forward.ts), after
 * checking the client's token here.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { KvapiConfig } from './cli.js';
import { HttpError } from './http-errors.js';

const ADMIN = /^\/admin\//;
const OPEN_IN_ALL = /^\/ui(\/|$)/;

/** Whether a request for `path` needs the bearer token under `config`. */
export function needsToken(
  config: Pick<KvapiConfig, 'secret' | 'httpAuth'>,
  path: string,
): boolean {
  if (config.secret === undefined) return false;
  if (config.httpAuth === 'all') return !OPEN_IN_ALL.test(path);
  return ADMIN.test(path);
}

/** `Bearer <secret>`, compared in constant time. */
export function tokenMatches(header: string | undefined, secret: string): boolean {
  if (header === undefined) return false;
  const m = /^Bearer (.+)$/i.exec(header.trim());
  if (m === null) return false;
  const a = Buffer.from(m[1] as string);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function registerAuth(app: FastifyInstance, config: KvapiConfig): void {
  if (config.secret === undefined) return;
  const secret = config.secret;
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (!needsToken(config, path)) return;
    if (tokenMatches(req.headers.authorization, secret)) return;
    reply.header('www-authenticate', 'Bearer realm="kvapi"');
    const missing = req.headers.authorization === undefined;
    throw new HttpError(
      401,
      'Unauthorized',
      missing ? 'this route needs "Authorization: Bearer <cluster secret>"' : 'wrong token',
    );
  });
}
