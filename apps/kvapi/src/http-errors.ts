/**
 * How kvapi turns failures into HTTP answers (apps/kvapi/README.md): 4xx and 503 mean "definitely not
 * applied", 504 means "outcome unknown". Every error answer is JSON with an `error` field.
 */
import { RaftError } from 'raft-core';

/** An HTTP error answer: status plus a JSON body with at least `error`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    return { error: this.error, message: this.message, ...this.extra };
  }
}

export const badRequest = (message: string, error = 'BadRequest'): HttpError =>
  new HttpError(400, error, message);

/** Raft errors after which the write was never proposed, or can never commit. */
const NOT_APPLIED = new Set([
  'NotLeader',
  'ProposalDropped',
  'LeadershipTransferInProgress',
  'ConfChangeInProgress',
  'Unavailable',
]);

/** Raft errors after which the write may or may not have been applied. */
const UNKNOWN = new Set(['Timeout', 'OutcomeUnknown', 'Stopped', 'Storage', 'Transport']);

/**
 * Maps an error thrown by KvStore/RaftNode to an HttpError. `leader` describes the leader for
 * 503 answers (`{leader: "host:port" | null, leaderId}`); `proposed` says whether a write was
 * already handed to raft (a `Stopped` before proposing is still "not applied").
 */
export function toHttpError(
  e: unknown,
  leader: () => { leader: string | null; leaderId: string | null },
): HttpError {
  if (e instanceof HttpError) return e;
  if (RaftError.isInstance(e)) {
    const limit = (e as { limit?: unknown }).limit;
    if (e.code === 'InvalidArgument' && (limit === 'key' || limit === 'value')) {
      return new HttpError(413, 'PayloadTooLarge', e.message, { limit });
    }
    if (e.code === 'InvalidArgument') return badRequest(e.message, 'InvalidArgument');
    if (NOT_APPLIED.has(e.code)) {
      return new HttpError(503, e.code, e.message, leader());
    }
    if (UNKNOWN.has(e.code)) return new HttpError(504, e.code, e.message);
    return new HttpError(500, e.code, e.message);
  }
  return new HttpError(500, 'Internal', e instanceof Error ? e.message : String(e));
}

/** Rejects with a 504 `Timeout` if `p` has not settled after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(
      () => reject(new HttpError(504, 'Timeout', `${what}: no outcome after ${ms} ms`)),
      ms,
    );
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
