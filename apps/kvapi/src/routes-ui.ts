/**
 * `GET /ui`: the live cluster dashboard — one static page (HTML, CSS and a small script built
 * by tsup from `src/ui/` into `dist/ui/`). It talks to this node only through the public HTTP
 * API (`/events`, `/status`, `/kv`, `/cas`, `/admin/*`), so it has no powers curl lacks.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { HttpError } from './http-errors.js';

/**
 * Where the built page lives. From `dist/main.js` and from `src/routes-ui.ts` (tests, tsx) alike
 * this is `apps/kvapi/dist/ui/`, so the sources run against the last UI build.
 */
export const UI_DIR = fileURLToPath(new URL('../dist/ui/', import.meta.url));

const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function uiRoutes(app: FastifyInstance, dir = UI_DIR): void {
  const cache = new Map<string, Buffer>();
  const load = async (name: string): Promise<Buffer> => {
    const hit = cache.get(name);
    if (hit !== undefined) return hit;
    try {
      const data = await readFile(`${dir}${name}`);
      cache.set(name, data);
      return data;
    } catch {
      throw new HttpError(
        404,
        'UiNotBuilt',
        `dashboard asset ${name} not found in ${dir}; run "pnpm build" (or pnpm --filter kvapi build)`,
      );
    }
  };
  const serve = (name: string) => async (_req: unknown, reply: FastifyReply) => {
    const body = await load(name);
    await reply
      .type(FILES[name] as string)
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .send(body);
  };
  app.get('/ui', serve('index.html'));
  app.get('/ui/', serve('index.html'));
  for (const name of Object.keys(FILES)) app.get(`/ui/${name}`, serve(name));
}
