/**
 * Typed failures of {@link KvClient}. The split that matters to a caller is whether a write
 * may have been applied: `KvNotAppliedError` means definitely not (safe to retry with a new
 * request), `KvOutcomeUnknownError` means it may or may not have been (retrying it through the
 * same client is still safe: the session answers a duplicate from the first result).
 */

/** What a kvapi server answered (status and JSON error body), if it answered. */
export interface KvServerAnswer {
  /** The HTTP status. */
  readonly status: number;
  /** The parsed JSON body (`{error, message, …}`), or `{}` if it was not JSON. */
  readonly body: Readonly<Record<string, unknown>>;
}

/** Base class of every error thrown by `KvClient`. */
export class KvClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KvClientError';
  }
}

/**
 * The request was definitely not applied: the server refused it (4xx), or every attempt was
 * rejected before anything was proposed (503) or never reached a server.
 */
export class KvNotAppliedError extends KvClientError {
  /** The last answer (undefined when no server answered). */
  readonly answer: KvServerAnswer | undefined;
  constructor(message: string, answer?: KvServerAnswer, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KvNotAppliedError';
    this.answer = answer;
  }

  /** HTTP status of the last answer, or 0 when none came. */
  get status(): number {
    return this.answer?.status ?? 0;
  }
}

/**
 * The outcome is unknown: an attempt timed out or got a 504 (or the connection broke after the
 * request was sent) and no later attempt settled it before the deadline.
 */
export class KvOutcomeUnknownError extends KvClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KvOutcomeUnknownError';
  }
}

/** A compare-and-swap found another value; `current` is it (`null` = absent). */
export class KvCasFailedError extends KvClientError {
  /** The key's value when the swap was refused (null if absent). */
  readonly current: string | null;
  /** The log index at which the comparison was made. */
  readonly index: number;
  constructor(current: string | null, index: number) {
    super(`compare-and-swap failed: current value is ${JSON.stringify(current)}`);
    this.name = 'KvCasFailedError';
    this.current = current;
    this.index = index;
  }
}
