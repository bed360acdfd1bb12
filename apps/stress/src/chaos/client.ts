/**
 * Chaos clients: each one loops get/put/cas/delete on a few keys through a random node over
 * plain HTTP (kvapi's `/kv/K` and `/cas/K`), one operation at a time, with unique values, and
 * records every invocation and completion. Answers are classified as Jepsen does: 200 (and a
 * get's 404, a cas's 409) = ok; 503 and other 4xx, or a refused connection = fail (definitely
 * not applied); 504, other 5xx, a timeout or a reset = info (unknown). After an info the client
 * continues as a new process, because its old one may still be "in flight" forever.
 */
import type { Rng } from 'raft-core/testing';
import type { CompleteEvent, HistoryEvent, InvokeEvent, OpKind } from './history.js';

/** A small rotating set of keys: each key gets `opsPerKey` operations, then a fresh one. */
export class KeyPool {
  private readonly slots: { key: string; used: number }[] = [];
  private next = 0;
  readonly all: string[] = [];

  constructor(
    size: number,
    private readonly opsPerKey: number,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.fresh());
  }

  private fresh(): { key: string; used: number } {
    const key = `k${this.next++}`;
    this.all.push(key);
    return { key, used: 0 };
  }

  take(rng: Rng): string {
    const i = rng.int(0, this.slots.length - 1);
    const s = this.slots[i] as { key: string; used: number };
    if (++s.used >= this.opsPerKey) this.slots[i] = this.fresh();
    return s.key;
  }
}

export interface ClientEnv {
  readonly ids: () => readonly string[];
  readonly url: (id: string) => string;
  readonly now: () => number;
  readonly record: (e: HistoryEvent) => void;
  readonly newProcess: () => number;
  readonly timeoutMs: number;
  /** `stale` reads each node's local state (`?consistency=stale`): not linearizable. */
  readonly reads: 'linearizable' | 'stale';
}

export type Outcome = Pick<CompleteEvent, 'type' | 'value' | 'error'>;

function errorCode(e: unknown): string {
  const err = e as { name?: string; code?: unknown; cause?: { code?: unknown } };
  // AbortSignal.timeout() rejects with a DOMException whose numeric `code` means nothing here.
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
  return String(err.cause?.code ?? err.code ?? err.name ?? e);
}

/** Runs one operation's HTTP request and classifies the answer. */
export async function perform(
  base: string,
  f: OpKind,
  key: string,
  value: InvokeEvent['value'],
  timeoutMs: number,
  reads: 'linearizable' | 'stale' = 'linearizable',
): Promise<Outcome> {
  const k = encodeURIComponent(key);
  let res: Response;
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    if (f === 'get') {
      const q = reads === 'stale' ? '?consistency=stale' : '';
      res = await fetch(`${base}/kv/${k}${q}`, { signal });
    } else if (f === 'put')
      res = await fetch(`${base}/kv/${k}`, { method: 'PUT', body: String(value), signal });
    else if (f === 'delete') res = await fetch(`${base}/kv/${k}`, { method: 'DELETE', signal });
    else {
      const [from, to] = value as [string | null, string];
      res = await fetch(`${base}/cas/${k}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from, to }),
        signal,
      });
    }
    const body = await res.text();
    const s = res.status;
    if (s === 200) {
      if (f === 'get') return { type: 'ok', value: body };
      if (f === 'cas') return { type: 'ok', value: true };
      return { type: 'ok' };
    }
    let error = `HTTP ${s}`;
    try {
      error += ` ${(JSON.parse(body) as { error?: string }).error ?? ''}`.trimEnd();
    } catch {
      // not JSON
    }
    if (f === 'get' && s === 404 && error.includes('NotFound')) return { type: 'ok', value: null };
    if (f === 'cas' && s === 409) return { type: 'ok', value: false };
    if (s === 503 || (s >= 400 && s < 500)) return { type: 'fail', error };
    return { type: 'info', error };
  } catch (e) {
    const code = errorCode(e);
    // A refused connection never carried the request; anything else may have.
    if (code === 'ECONNREFUSED') return { type: 'fail', error: code };
    return { type: 'info', error: code };
  }
}

/** One client: runs until `running()` is false. Returns the number of operations. */
export async function runClient(
  n: number,
  env: ClientEnv,
  keys: KeyPool,
  rng: Rng,
  running: () => boolean,
): Promise<number> {
  let process = env.newProcess();
  const last = new Map<string, string | null>();
  let ops = 0;
  while (running()) {
    const node = rng.pick(env.ids());
    const key = keys.take(rng);
    const r = rng.int(0, 99);
    const f: OpKind = r < 40 ? 'get' : r < 65 ? 'put' : r < 90 ? 'cas' : 'delete';
    const unique = `c${n}-${ops}`;
    const value: InvokeEvent['value'] =
      f === 'put' ? unique : f === 'cas' ? [last.get(key) ?? null, unique] : undefined;
    const invoke: InvokeEvent = {
      type: 'invoke',
      process,
      f,
      key,
      ...(value !== undefined && { value }),
      node,
      time: env.now(),
    };
    env.record(invoke);
    const out = await perform(env.url(node), f, key, value, env.timeoutMs, env.reads);
    env.record({ process, f, key, ...out, time: env.now() });
    ops++;
    if (out.type === 'ok') {
      if (f === 'get') last.set(key, (out.value as string | null) ?? null);
      if (f === 'put') last.set(key, unique);
      if (f === 'cas' && out.value === true) last.set(key, unique);
      if (f === 'delete') last.set(key, null);
    } else {
      // Unknown current value; the next cas still guesses, which exercises the failing path.
      if (out.type === 'info') process = env.newProcess();
      await new Promise((res) => setTimeout(res, 20 + rng.int(0, 80)));
    }
  }
  return ops;
}
