/**
 * `Writer` runs write requests. On the leader it proposes through KvStore (with a deadline: no
 * answer in time is a 504). On a follower it relays the write to the leader: writes arriving
 * in the same event-loop turn travel together in one internal request
 * (`POST /_internal/writes`) over the keep-alive pool, so relaying costs one HTTP round trip
 * per batch instead of per write. The leader answers each item as if it had been sent to it
 * directly. A follower that lost a race with an election (propose throws NotLeader before
 * anything is in the log) relays too; a relayed write is never relayed again.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

/** One write, as relayed between nodes. */
export type WriteCmd =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly from: string | null; readonly to: string };

/** The HTTP answer to one write. */
export interface WriteAnswer {
  readonly status: number;
  readonly body: unknown;
}

interface Item {
  readonly cmd: WriteCmd;
  readonly session: Session | undefined;
}

interface Queued extends Item {
  readonly resolve: (a: WriteAnswer) => void;
}

export const INTERNAL_WRITES = '/_internal/writes';
const MAX_BATCH_ITEMS = 512;
const MAX_BATCH_BYTES = 1024 * 1024;
const MAX_BATCHES_IN_FLIGHT = 4;

function respond(cmd: WriteCmd, r: KvResult): WriteAnswer {
  const dup = r.duplicate === true ? { duplicate: true } : {};
  switch (cmd.op) {
    case 'put':
      return { status: 200, body: { index: r.index, ...dup } };
    case 'delete':
      return { status: 200, body: { index: r.index, deleted: r.prev !== null, ...dup } };
    case 'cas':
      return r.ok
        ? { status: 200, body: { index: r.index, swapped: true, ...dup } }
        : {
            status: 409,
            body: {
              error: 'CasFailed',
              current: r.current,
              index: r.index,
              swapped: false,
              ...dup,
            },
          };
  }
}

function answerOf(e: HttpError): WriteAnswer {
  return { status: e.status, body: e.body() };
}

export class Writer {
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private inFlight = 0;

  constructor(private readonly ctx: Ctx) {}

  /** Runs `cmd` for an HTTP request (session headers are validated first) and replies. */
  async run(req: FastifyRequest, reply: FastifyReply, cmd: WriteCmd): Promise<void> {
    const session = sessionOf(req.headers);
    const a = await this.execute({ cmd, session }, req.headers[FORWARDED_HEADER] !== undefined);
    await reply.code(a.status).send(a.body);
  }

  /** Registers the leader's side of relayed batches. */
  register(app: FastifyInstance): void {
    const { config } = this.ctx;
    app.post(
      INTERNAL_WRITES,
      { bodyLimit: 2 * config.maxValueBytes + MAX_BATCH_BYTES + 1024 * 1024 },
      async (req, reply) => {
        if (req.headers[FORWARDED_HEADER] === undefined) {
          throw new HttpError(404, 'NoSuchRoute', `${req.method} ${INTERNAL_WRITES}`);
        }
        let items: Item[];
        try {
          const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
          items = (JSON.parse(text) as { items: Item[] }).items;
          if (!Array.isArray(items)) throw new Error('items');
        } catch {
          throw new HttpError(400, 'InvalidJson', 'expected {"items":[…]}');
        }
        const answers = await Promise.all(items.map((it) => this.execute(it, true)));
        await reply.send({ answers });
      },
    );
  }

  private async execute(item: Item, forwarded: boolean): Promise<WriteAnswer> {
    try {
      if (this.ctx.replica.isLeader) {
        const a = await this.local(item);
        if (a !== null) return a;
      }
      const info = this.ctx.replica.leaderInfo();
      if (forwarded) {
        throw new HttpError(503, 'NotLeader', 'not the leader (write was already relayed)', info);
      }
      if (info.leaderId === null || info.leaderId === this.ctx.config.node) {
        throw new HttpError(503, 'NotLeader', 'no leader known; retry shortly', info);
      }
      if (info.leader === null) {
        throw new HttpError(503, 'NotLeader', `no HTTP address known for ${info.leaderId}`, info);
      }
      return await this.relay(item, info.leader);
    } catch (e) {
      return answerOf(toHttpError(e, () => this.ctx.replica.leaderInfo()));
    }
  }

  /** Proposes on this node; null when it turned out not to be the leader (nothing proposed). */
  private async local({ cmd, session }: Item): Promise<WriteAnswer | null> {
    const { replica, metrics, config } = this.ctx;
    const store = replica.store;
    const opts = session === undefined ? {} : { session };
    const t0 = performance.now();
    let r: KvResult;
    try {
      const p =
        cmd.op === 'put'
          ? store.put(cmd.key, cmd.value, opts)
          : cmd.op === 'delete'
            ? store.delete(cmd.key, opts)
            : store.cas(cmd.key, cmd.from, cmd.to, opts);
      r = await withTimeout(p, config.requestTimeoutMs, cmd.op);
    } catch (e) {
      if (RaftError.isInstance(e) && e.code === 'NotLeader') {
        metrics.proposal(cmd.op, 'not_applied');
        return null;
      }
      const err = toHttpError(e, () => replica.leaderInfo());
      const result = err.status === 504 ? 'unknown' : err.status < 500 ? 'rejected' : 'not_applied';
      metrics.proposal(cmd.op, result);
      throw err;
    }
    metrics.proposal(cmd.op, 'ok', performance.now() - t0);
    if (r.error === 'SessionExpired') {
      throw new HttpError(410, 'SessionExpired', 'client session expired; start a new one', {
        index: r.index,
      });
    }
    if (r.error === 'InvalidCommand') {
      throw new HttpError(400, 'InvalidCommand', 'the state machine rejected the command');
    }
    return respond(cmd, r);
  }

  private relay(item: Item, leader: string): Promise<WriteAnswer> {
    return new Promise<WriteAnswer>((resolve) => {
      this.queue.push({ ...item, resolve });
      const c = item.cmd;
      this.queuedBytes +=
        c.key.length + (c.op === 'put' ? c.value.length : c.op === 'cas' ? c.to.length : 0);
      this.schedule(leader);
    });
  }

  private schedule(leader: string): void {
    if (this.flushScheduled || this.inFlight >= MAX_BATCHES_IN_FLIGHT) return;
    this.flushScheduled = true;
    // A microtask, not the next turn: a lone write leaves at once, and writes that arrive
    // while batches are in flight (the queue) go together in the next one.
    queueMicrotask(() => {
      this.flushScheduled = false;
      while (this.queue.length > 0 && this.inFlight < MAX_BATCHES_IN_FLIGHT) {
        this.sendBatch(leader);
      }
    });
  }

  private sendBatch(leader: string): void {
    const batch: Queued[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && batch.length < MAX_BATCH_ITEMS && bytes < MAX_BATCH_BYTES) {
      const q = this.queue.shift() as Queued;
      const c = q.cmd;
      bytes += c.key.length + (c.op === 'put' ? c.value.length : c.op === 'cas' ? c.to.length : 0);
      batch.push(q);
    }
    this.queuedBytes = Math.max(0, this.queuedBytes - bytes);
    this.inFlight++;
    const { forwarder, metrics, config } = this.ctx;
    const body = Buffer.from(
      JSON.stringify({ items: batch.map((q) => ({ cmd: q.cmd, session: q.session })) }),
    );
    forwarder
      .forward(
        leader,
        {
          method: 'POST',
          url: INTERNAL_WRITES,
          headers: { 'content-type': 'application/json' },
          body,
        },
        config.requestTimeoutMs + 1000,
      )
      .then(
        (res) => {
          metrics.forwarded.inc({ result: String(res.status) }, batch.length);
          let answers: WriteAnswer[] | undefined;
          if (res.status === 200) {
            answers = (JSON.parse(res.body.toString('utf8')) as { answers: WriteAnswer[] }).answers;
          }
          batch.forEach((q, i) => {
            const a = answers?.[i];
            if (a !== undefined) q.resolve(a);
            else {
              // The leader refused the batch as a whole (e.g. 503 while shutting down): nothing
              // in it ran. A 5xx other than 503 may have come after some items ran.
              const status = res.status < 500 || res.status === 503 ? 503 : 504;
              q.resolve({
                status,
                body: { error: status === 503 ? 'NotLeader' : 'ForwardFailed', status: res.status },
              });
            }
          });
        },
        (e: unknown) => {
          metrics.forwarded.inc({ result: 'error' }, batch.length);
          const err = toHttpError(e, () => this.ctx.replica.leaderInfo());
          for (const q of batch) q.resolve(answerOf(err));
        },
      )
      .finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) {
          const l = this.ctx.replica.leaderInfo().leader ?? leader;
          this.schedule(l);
        }
      });
  }
}
