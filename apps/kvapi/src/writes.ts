/**
 * `Writer` runs one write request: on the leader it proposes through KvStore (with a deadline:
 * no answer in time is a 504), on a follower it relays the request to the leader's HTTP
 * address. A follower that lost a race with an election (propose throws NotLeader before
 * anything is in the log) relays too. A relayed request is never relayed again.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RaftError } from 'raft-core';
import type { KvResult, Session } from 'raft-kv';
import type { KvapiConfig } from './cli.js';
import { FORWARDED_HEADER, type Forwarder } from './forward.js';
import { HttpError, toHttpError, withTimeout } from './http-errors.js';
import type { Metrics } from './metrics.js';
import type { Replica } from './replica.js';
import { sessionOf } from './request.js';

export interface Ctx {
  readonly config: KvapiConfig;
  readonly replica: Replica;
  readonly forwarder: Forwarder;
  readonly metrics: Metrics;
}

export class Writer {
  constructor(private readonly ctx: Ctx) {}

  /**
   * Runs `exec` on the leader (here, or relayed) and sends `respond(result)`. Session headers
   * are parsed (and rejected if malformed) before anything else happens.
   */
  async run(
    req: FastifyRequest,
    reply: FastifyReply,
    op: string,
    exec: (opts: { session?: Session }) => Promise<KvResult>,
    respond: (r: KvResult) => { status: number; body: unknown },
  ): Promise<void> {
    const { replica, metrics, config } = this.ctx;
    const session = sessionOf(req.headers);
    const opts = session === undefined ? {} : { session };
    if (replica.isLeader) {
      const t0 = performance.now();
      let r: KvResult;
      try {
        r = await withTimeout(exec(opts), config.requestTimeoutMs, op);
      } catch (e) {
        const err = toHttpError(e, () => replica.leaderInfo());
        if (RaftError.isInstance(e) && e.code === 'NotLeader') {
          // Never proposed: relaying it is as safe as if we had been a follower all along.
          metrics.proposals.inc({ op, result: 'not_applied' });
          await this.relay(req, reply);
          return;
        }
        metrics.proposals.inc({ op, result: err.status === 504 ? 'unknown' : 'not_applied' });
        throw err;
      }
      metrics.proposals.inc({ op, result: 'ok' });
      metrics.commitLatency.observe({ op }, (performance.now() - t0) / 1000);
      if (r.error === 'SessionExpired') {
        throw new HttpError(410, 'SessionExpired', 'client session expired; start a new one', {
          index: r.index,
        });
      }
      if (r.error === 'InvalidCommand') {
        throw new HttpError(400, 'InvalidCommand', 'the state machine rejected the command');
      }
      const { status, body } = respond(r);
      const out = r.duplicate === true ? { ...(body as object), duplicate: true } : body;
      await reply.code(status).send(out);
      return;
    }
    await this.relay(req, reply);
  }

  private async relay(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { replica, forwarder, metrics, config } = this.ctx;
    const info = replica.leaderInfo();
    if (req.headers[FORWARDED_HEADER] !== undefined) {
      throw new HttpError(503, 'NotLeader', 'not the leader (request was already relayed)', info);
    }
    if (info.leaderId === null || info.leaderId === config.node) {
      throw new HttpError(503, 'NotLeader', 'no leader known; retry shortly', info);
    }
    if (info.leader === null) {
      throw new HttpError(503, 'NotLeader', `no HTTP address known for ${info.leaderId}`, info);
    }
    try {
      const res = await forwarder.forward(
        info.leader,
        {
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: req.body instanceof Buffer ? req.body : undefined,
        },
        config.requestTimeoutMs + 1000,
      );
      metrics.forwarded.inc({ result: String(res.status) });
      reply.code(res.status);
      if (res.contentType !== undefined) reply.type(res.contentType);
      await reply.send(res.body);
    } catch (e) {
      metrics.forwarded.inc({ result: 'error' });
      throw e;
    }
  }
}
