/**
 * Membership and leadership admin routes (raft-core's `addLearner`, `addVoter`, `removeNode`,
 * `transferLeadership`), plus `/status` and `/metrics`. Admin writes run on the leader; a
 * follower relays them like any write. The new member's `{peer, http}` addresses travel in the
 * ConfChange's context, so every node learns them from the log.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConfState } from 'raft-core';
import { parseHostPort } from './cli.js';
import { FORWARDED_HEADER } from './forward.js';
import { HttpError, toHttpError, withTimeout } from './http-errors.js';
import type { MemberContext } from './members.js';
import { bodyJson } from './request.js';
import { buildStatus } from './status.js';
import type { Ctx } from './writes.js';

const ID = /^[A-Za-z0-9_.-]{1,64}$/;

function field(b: Record<string, unknown>, name: string): string {
  const v = b[name];
  if (typeof v !== 'string' || v === '') {
    throw new HttpError(400, 'BadRequest', `body needs a non-empty string "${name}"`);
  }
  return v;
}

function address(b: Record<string, unknown>, name: string): string {
  const v = field(b, name);
  try {
    parseHostPort(v, name);
  } catch (e) {
    throw new HttpError(400, 'BadRequest', (e as Error).message);
  }
  return v;
}

function object(body: unknown): Record<string, unknown> {
  const b = bodyJson(body);
  if (typeof b !== 'object' || b === null || Array.isArray(b)) {
    throw new HttpError(400, 'InvalidJson', 'body must be a JSON object');
  }
  return b as Record<string, unknown>;
}

function memberList(cs: ConfState): { voters: string[]; learners: string[] } {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}

export function adminRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { replica, config, forwarder } = ctx;
  const { node, directory } = replica;
  const leader = (): { leader: string | null; leaderId: string | null } => replica.leaderInfo();

  /** Runs `exec` on the leader: here, or relayed to it. */
  const onLeader = async (
    req: FastifyRequest,
    reply: FastifyReply,
    exec: () => Promise<unknown>,
  ): Promise<void> => {
    if (!replica.isLeader) {
      const info = leader();
      if (req.headers[FORWARDED_HEADER] !== undefined || info.leader === null) {
        throw new HttpError(503, 'NotLeader', 'not the leader', info);
      }
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
      reply.code(res.status);
      if (res.contentType !== undefined) reply.type(res.contentType);
      await reply.send(res.body);
      return;
    }
    let out: unknown;
    try {
      out = await withTimeout(exec(), config.requestTimeoutMs, req.url);
    } catch (e) {
      throw toHttpError(e, leader);
    }
    await reply.send(out);
  };

  const contextOf = (id: string): string | undefined => {
    const m = directory.get(id);
    return m === undefined ? undefined : JSON.stringify({ peer: m.peer, http: m.http });
  };

  app.post('/admin/learner', async (req, reply) => {
    const b = object(req.body);
    const id = field(b, 'id');
    if (!ID.test(id)) throw new HttpError(400, 'BadRequest', 'id: 1-64 of A-Z a-z 0-9 _ . -');
    const m: MemberContext = { peer: address(b, 'peer'), http: address(b, 'http') };
    await onLeader(req, reply, async () => {
      const cs = node.status().confState;
      if (cs.voters.includes(id)) throw new HttpError(409, 'AlreadyMember', `${id} is a voter`);
      directory.remember(id, m);
      const next = await node.addLearner(id, { context: JSON.stringify(m) });
      return { ok: true, ...memberList(next) };
    });
  });

  app.post('/admin/promote', async (req, reply) => {
    const id = field(object(req.body), 'id');
    await onLeader(req, reply, async () => {
      const cs = node.status().confState;
      if (cs.voters.includes(id)) return { ok: true, ...memberList(cs) };
      if (!cs.learners.includes(id)) {
        throw new HttpError(404, 'NotAMember', `${id} is not a learner; add it first`);
      }
      const ctxStr = contextOf(id);
      const next = await node.addVoter(id, ctxStr === undefined ? {} : { context: ctxStr });
      return { ok: true, ...memberList(next) };
    });
  });

  app.post('/admin/remove', async (req, reply) => {
    const id = field(object(req.body), 'id');
    await onLeader(req, reply, async () => {
      const cs = node.status().confState;
      if (!cs.voters.includes(id) && !cs.learners.includes(id)) {
        throw new HttpError(404, 'NotAMember', `${id} is not a member`);
      }
      const next = await node.removeNode(id);
      return { ok: true, ...memberList(next) };
    });
  });

  app.post('/admin/transfer', async (req, reply) => {
    const id = field(object(req.body), 'id');
    await onLeader(req, reply, async () => {
      const cs = node.status().confState;
      if (!cs.voters.includes(id)) throw new HttpError(404, 'NotAVoter', `${id} is not a voter`);
      await node.transferLeadership(id);
      return { ok: true, leader: id };
    });
  });

  app.get('/status', async (_req, reply) => {
    await reply.send(buildStatus(ctx));
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    await reply.type(ctx.metrics.registry.contentType).send(text);
  });
}
