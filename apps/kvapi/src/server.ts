/**
 * `KvapiServer` wires a {@link Replica} to a fastify app: limits and timeouts against abusive
 * clients (body limit, header and request deadlines for slow-loris sockets, keep-alive), JSON
 * for every error (also unknown routes, 405s and framework errors), request logs at debug, and
 * a graceful shutdown that hands leadership over before the node stops.
 */
import http from 'node:http';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { registerAuth } from './auth.js';
import type { KvapiConfig } from './cli.js';
import { parseHostPort } from './cli.js';
import { Forwarder } from './forward.js';
import { HttpError } from './http-errors.js';
import { Metrics } from './metrics.js';
import { Replica } from './replica.js';
import { parseQuery } from './request.js';
import { adminRoutes } from './routes-admin.js';
import { backupRoutes } from './routes-backup.js';
import { eventsRoutes } from './routes-events.js';
import { kvRoutes } from './routes-kv.js';
import { uiRoutes } from './routes-ui.js';
import { Writer } from './writes.js';

/** Methods allowed per route pattern, for 405 answers. */
const ALLOWED: ReadonlyArray<[RegExp, string]> = [
  [/^\/(set|get|status|metrics|events)$/, 'GET, HEAD'],
  [/^\/ui(\/(index\.html|app\.js|app\.css)?)?$/, 'GET, HEAD'],
  [/^\/kv$/, 'GET, HEAD'],
  [/^\/kv\/.+/, 'GET, HEAD, PUT, DELETE'],
  [/^\/cas\/.+/, 'POST'],
  [/^\/admin\/(learner|promote|remove|transfer)$/, 'POST'],
  [/^\/admin\/backup$/, 'GET, HEAD'],
];

export class KvapiServer {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly app: FastifyInstance,
    readonly replica: Replica,
    private readonly forwarder: Forwarder,
  ) {}

  static async start(config: KvapiConfig): Promise<KvapiServer> {
    const headersTimeout = config.headersTimeoutMs;
    const app = Fastify({
      logger: { level: config.logLevel, base: { node: config.node } },
      // Requests are logged at debug by our onResponse hook (docs/toolchain.md: info costs ~40%).
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: config.bodyLimit,
      connectionTimeout: 120_000,
      keepAliveTimeout: 10_000,
      requestTimeout: Math.max(30_000, headersTimeout + 1000),
      forceCloseConnections: 'idle',
      return503OnClosing: true,
      routerOptions: { querystringParser: parseQuery },
      serverFactory: (handler) =>
        http.createServer(
          {
            headersTimeout,
            requestTimeout: Math.max(30_000, headersTimeout + 1000),
            keepAliveTimeout: 10_000,
            // How often Node enforces headersTimeout/requestTimeout on slow sockets.
            connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 4)),
          },
          handler,
        ),
      frameworkErrors: (err, _req, reply) => {
        const r = reply as unknown as FastifyReply;
        void r.code(err.statusCode ?? 400).send({
          error: err.code === 'FST_ERR_BAD_URL' ? 'BadUrl' : (err.code ?? 'BadRequest'),
          message: err.message,
        });
      },
    });
    const replica = await Replica.start(config, app.log).catch(async (e: unknown) => {
      await app.close();
      throw e;
    });
    const forwarder = new Forwarder(config.node, config.secret);
    const metrics = new Metrics(replica.node, replica.transport, () => replica.peers());
    replica.onSnapshot = () => metrics.snapshots.inc();
    const ctx = { config, replica, forwarder, metrics };
    const server = new KvapiServer(app, replica, forwarder);

    replica.node.on('error', (e) => {
      app.log.fatal({ err: e.message }, 'raft node failed; exiting');
      process.exitCode = 1;
      void server.close();
    });
    replica.node.on('leaderChange', ({ leader, term }) =>
      app.log.info({ leader, term }, `leader is ${leader ?? 'unknown'} at term ${term}`),
    );

    registerAuth(app, config);
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.addHook('onResponse', (req, reply, done) => {
      const route = req.routeOptions.url ?? 'unmatched';
      metrics.httpDuration.observe(
        { method: req.method, route, status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      req.log.debug(
        { method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime },
        'request',
      );
      done();
    });

    app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
      if (err instanceof HttpError) {
        if (err.status >= 500) req.log.debug({ err: err.message }, err.error);
        return reply.code(err.status).send(err.body());
      }
      const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
      if (status >= 500) req.log.error({ err }, 'request failed');
      const error =
        status === 413 ? 'PayloadTooLarge' : status === 500 ? 'Internal' : (err.code ?? 'Error');
      return reply.code(status).send({ error, message: err.message });
    });

    app.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0] ?? '';
      const allowed = ALLOWED.find(([re]) => re.test(path))?.[1];
      if (allowed !== undefined) {
        return reply
          .code(405)
          .header('allow', allowed)
          .send({ error: 'MethodNotAllowed', message: `${req.method} ${path}`, allow: allowed });
      }
      return reply.code(404).send({ error: 'NoSuchRoute', message: `${req.method} ${path}` });
    });

    const writer = new Writer(ctx);
    writer.register(app);
    kvRoutes(app, ctx, writer);
    adminRoutes(app, ctx);
    backupRoutes(app, ctx);
    eventsRoutes(app, ctx);
    uiRoutes(app);

    const { host, port } = parseHostPort(config.http, '--http');
    try {
      await app.listen({ host: host === '' ? '0.0.0.0' : host.replace(/^\[|\]$/g, ''), port });
    } catch (e) {
      await replica.stop().catch(() => {});
      forwarder.close();
      throw e;
    }
    return server;
  }

  /**
   * Graceful stop: stop accepting, hand leadership over if leader, let in-flight requests
   * finish (bounded), then stop the raft node (which closes storage). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const log = this.app.log;
      log.info('shutting down');
      const closed = this.app.close();
      if (this.replica.isLeader) await this.replica.handOver(3000, log);
      await Promise.race([
        closed,
        new Promise((r) => setTimeout(r, this.replica.config.requestTimeoutMs + 2000).unref()),
      ]);
      this.forwarder.close();
      await this.replica.stop();
      log.info('stopped');
    })();
    return this.closing;
  }
}
