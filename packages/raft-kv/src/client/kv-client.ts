/**
 * `KvClient` talks to a kvapi cluster over HTTP with the global `fetch` (no Node imports). Every
 * write carries the client's session (`X-Client-Id`, an increasing `X-Client-Seq`, and
 * `X-Client-Ack`), and is retried with the SAME seq on network errors, 503 and 504 — trying the
 * leader hint or the next endpoint — so a write is applied at most once (thesis §6.3).
 *
 * Correctness:
 * - every promise settles within `timeoutMs` (plus a few ms of timer slack);
 * - `KvNotAppliedError` only when no attempt can have been applied (4xx, or only 503s and
 *   refused connections); any attempt with an unknown outcome that is not settled later makes
 *   the failure `KvOutcomeUnknownError`;
 * - a 4xx answer to a retry is authoritative: the server's session answers a duplicate of an
 *   applied write with the first result.
 */
import {
  KvCasFailedError,
  KvNotAppliedError,
  KvOutcomeUnknownError,
  type KvServerAnswer,
} from './errors.js';

/** Options of {@link KvClient}. */
export interface KvClientOptions {
  /** Base URLs of the nodes, e.g. `http://127.0.0.1:2020`. Any node accepts any request. */
  readonly endpoints: readonly string[];
  /** Deadline of one call, retries included. Default 10,000 ms. */
  readonly timeoutMs?: number;
  /** Deadline of one attempt. Default max(1,000, timeoutMs / 3). */
  readonly attemptTimeoutMs?: number;
  /** Retries after the first attempt (within `timeoutMs`). Default 20. */
  readonly retries?: number;
  /** The session id. Default a random UUID; a restarted client must use a new one. */
  readonly clientId?: string;
  /** Used instead of the global `fetch` (tests). */
  readonly fetch?: typeof fetch;
}

/** Read consistency: `linearizable` (default) or `stale` (served locally, may lag). */
export type KvConsistency = 'linearizable' | 'stale';

/** What a write returns: the log index it was applied at. */
export interface KvWriteResult {
  /** The log index of the write. */
  readonly index: number;
  /** The server answered from the session: applied by an earlier attempt. */
  readonly duplicate?: boolean;
}

interface Attempt {
  readonly method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  readonly path: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly write: boolean;
  /** Statuses returned to the caller as answers (not errors), besides 2xx. */
  readonly accept?: readonly number[];
}

interface Answer {
  readonly status: number;
  readonly text: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID !== undefined) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** True when the error says the connection was refused: the request never left. */
function refused(e: unknown): boolean {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause;
  return cause?.code === 'ECONNREFUSED';
}

/**
 * `KvClient` talks to a kvapi cluster over HTTP: it finds the leader through any endpoint, retries
 * writes with the same client session (so a retried write applies once), and turns answers into
 * typed errors (`KvNotAppliedError`, `KvOutcomeUnknownError`, `KvCasFailedError`).
 */
export class KvClient {
  /** This client's session id (`X-Client-Id`), random unless given in the options. */
  readonly clientId: string;
  private readonly endpoints: string[];
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly retries: number;
  private readonly fetchFn: typeof fetch;
  private seq = 0;
  /** Seqs sent but not yet answered; the smallest bounds `ack`. */
  private readonly inflight = new Set<number>();
  /** Index into `endpoints` of the node to try first. */
  private preferred = 0;

  constructor(options: KvClientOptions) {
    if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) {
      throw new TypeError('KvClient: endpoints must be a non-empty array of base URLs');
    }
    this.endpoints = options.endpoints.map((e) => e.replace(/\/+$/, ''));
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? Math.max(1000, this.timeoutMs / 3);
    this.retries = options.retries ?? 20;
    this.clientId = options.clientId ?? randomId();
    this.fetchFn = options.fetch ?? ((...a) => fetch(...a));
    if (!(this.timeoutMs > 0) || !(this.attemptTimeoutMs > 0) || !(this.retries >= 0)) {
      throw new TypeError('KvClient: timeoutMs, attemptTimeoutMs must be > 0, retries >= 0');
    }
  }

  /** Sets `key` to `value`. */
  async put(key: string, value: string): Promise<KvWriteResult> {
    const a = await this.call({
      method: 'PUT',
      path: `/kv/${encodeURIComponent(key)}`,
      body: value,
      contentType: 'text/plain; charset=utf-8',
      write: true,
    });
    return writeResult(a);
  }

  /** Deletes `key`; `deleted` says whether it existed. */
  async delete(key: string): Promise<
    KvWriteResult & {
      /** False if the key did not exist. */
      deleted: boolean;
    }
  > {
    const a = await this.call({
      method: 'DELETE',
      path: `/kv/${encodeURIComponent(key)}`,
      write: true,
    });
    return { ...writeResult(a), deleted: parseJson(a.text).deleted === true };
  }

  /**
   * Sets `key` to `to` if its value is `from` (`null`: absent). Throws `KvCasFailedError` with
   * the current value otherwise.
   */
  async cas(key: string, from: string | null, to: string): Promise<KvWriteResult> {
    const a = await this.call({
      method: 'POST',
      path: `/cas/${encodeURIComponent(key)}`,
      body: JSON.stringify({ from, to }),
      contentType: 'application/json',
      write: true,
      accept: [409],
    });
    if (a.status === 409) {
      const b = parseJson(a.text);
      const current = typeof b.current === 'string' ? b.current : null;
      throw new KvCasFailedError(current, typeof b.index === 'number' ? b.index : 0);
    }
    return writeResult(a);
  }

  /** The value of `key`, or `undefined` when it is absent. */
  async get(
    key: string,
    options: { consistency?: KvConsistency } = {},
  ): Promise<string | undefined> {
    const q = options.consistency === 'stale' ? '?consistency=stale' : '';
    const a = await this.call({
      method: 'GET',
      path: `/kv/${encodeURIComponent(key)}${q}`,
      write: false,
      accept: [404],
    });
    if (a.status === 404) {
      if (parseJson(a.text).error === 'NotFound') return undefined;
      throw new KvNotAppliedError(`GET /kv: 404`, { status: 404, body: parseJson(a.text) });
    }
    return a.text;
  }

  /** Up to `limit` (default 100) entries whose key starts with `prefix`, after `after`. */
  async list(
    prefix: string,
    options: { limit?: number; after?: string; consistency?: KvConsistency } = {},
  ): Promise<{
    /** The matching entries, in key order. */
    items: {
      /** The key. */
      key: string;
      /** Its value. */
      value: string;
    }[];
    /** True if more keys match after the last one returned (pass it as `after` to continue). */
    more: boolean;
  }> {
    const p = new URLSearchParams({ prefix });
    if (options.limit !== undefined) p.set('limit', String(options.limit));
    if (options.after !== undefined) p.set('after', options.after);
    if (options.consistency !== undefined) p.set('consistency', options.consistency);
    const a = await this.call({ method: 'GET', path: `/kv?${p}`, write: false });
    const b = parseJson(a.text) as { items?: { key: string; value: string }[]; more?: boolean };
    return { items: b.items ?? [], more: b.more === true };
  }

  /** `GET /status` of one node (default: the preferred one). */
  async status(endpoint?: string): Promise<Record<string, unknown>> {
    if (endpoint !== undefined) {
      const a = await this.once(
        endpoint.replace(/\/+$/, ''),
        { method: 'GET', path: '/status', write: false },
        {},
        this.attemptTimeoutMs,
      );
      if (a.status !== 200) {
        throw new KvNotAppliedError(`GET /status: ${a.status}`, {
          status: a.status,
          body: parseJson(a.text),
        });
      }
      return parseJson(a.text);
    }
    return parseJson((await this.call({ method: 'GET', path: '/status', write: false })).text);
  }

  /** Runs one request with retries; returns a 2xx or accepted answer, or throws. */
  private async call(req: Attempt): Promise<Answer> {
    const deadline = Date.now() + this.timeoutMs;
    let headers: Record<string, string> = {};
    let seq = -1;
    if (req.write) {
      seq = ++this.seq;
      this.inflight.add(seq);
    }
    let unknown: unknown = null;
    let last: KvServerAnswer | undefined;
    let lastError: unknown;
    let hint: string | null = null;
    let next = this.preferred;
    try {
      for (let attempt = 0; attempt <= this.retries; attempt++) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        if (req.write) {
          headers = {
            'x-client-id': this.clientId,
            'x-client-seq': String(seq),
            'x-client-ack': String(Math.min(...this.inflight)),
          };
        }
        let endpoint: string;
        if (hint !== null) {
          endpoint = hint;
          hint = null;
        } else {
          endpoint = this.endpoints[next % this.endpoints.length] as string;
        }
        let a: Answer;
        try {
          a = await this.once(endpoint, req, headers, Math.min(left, this.attemptTimeoutMs));
        } catch (e) {
          lastError = e;
          if (!refused(e)) unknown = e;
          next++;
          await this.backoff(attempt, deadline);
          continue;
        }
        if ((a.status >= 200 && a.status < 300) || req.accept?.includes(a.status)) {
          const i = this.endpoints.indexOf(endpoint);
          if (i >= 0) this.preferred = i;
          return a;
        }
        const body = parseJson(a.text);
        last = { status: a.status, body };
        if (a.status === 503) {
          // Rejected before proposing. Try the leader it names, else the next node.
          const leader = typeof body.leader === 'string' ? body.leader : null;
          if (leader !== null) {
            const url = leader.includes('://') ? leader : `http://${leader}`;
            const i = this.endpoints.indexOf(url);
            if (i >= 0) next = i;
            else hint = url;
          } else next++;
          await this.backoff(attempt, deadline);
          continue;
        }
        if (a.status === 504 || a.status >= 500) {
          unknown = new KvOutcomeUnknownError(`${req.method} ${req.path}: ${a.status} ${a.text}`);
          next++;
          await this.backoff(attempt, deadline);
          continue;
        }
        if (a.status === 410 && body.error === 'SessionExpired') {
          // The server forgot this session's results: an earlier attempt's outcome is lost.
          if (unknown !== null) break;
        }
        throw new KvNotAppliedError(`${req.method} ${req.path}: ${a.status} ${a.text}`, last);
      }
    } finally {
      if (req.write) this.inflight.delete(seq);
    }
    if (unknown !== null || (!req.write && lastError !== undefined && last === undefined)) {
      throw new KvOutcomeUnknownError(
        `${req.method} ${req.path}: no definite answer within ${this.timeoutMs} ms`,
        { cause: unknown ?? lastError },
      );
    }
    throw new KvNotAppliedError(
      `${req.method} ${req.path}: not applied (${last === undefined ? 'no node reachable' : `last answer ${last.status}`})`,
      last,
      { cause: lastError },
    );
  }

  private async once(
    endpoint: string,
    req: Attempt,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<Answer> {
    const ac = new AbortController();
    const timer = setTimeout(
      () => ac.abort(new Error(`no answer after ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      const h: Record<string, string> = { ...headers };
      if (req.contentType !== undefined) h['content-type'] = req.contentType;
      const init: RequestInit = { method: req.method, headers: h, signal: ac.signal };
      if (req.body !== undefined) init.body = req.body;
      const res = await this.fetchFn(`${endpoint}${req.path}`, init);
      const text = await res.text();
      return { status: res.status, text };
    } finally {
      clearTimeout(timer);
    }
  }

  private async backoff(attempt: number, deadline: number): Promise<void> {
    const ms = Math.min(500, 20 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
    const left = deadline - Date.now();
    if (left > 0) await sleep(Math.min(ms, left));
  }
}

function writeResult(a: Answer): KvWriteResult {
  const b = parseJson(a.text);
  const index = typeof b.index === 'number' ? b.index : 0;
  return b.duplicate === true ? { index, duplicate: true } : { index };
}
