/**
 * The page's only way to the cluster: `fetch` against the public HTTP API of the node that
 * served it, with the cluster secret as a bearer token once the node asked for one (401).
 * Answers are shown as the API returns them: 503 = not applied (with the leader hint),
 * 504 = outcome unknown.
 */
import { askToken, getToken } from './dialogs.js';

export interface Answer {
  readonly status: number;
  readonly ok: boolean;
  readonly text: string;
  readonly json: Record<string, unknown> | null;
}

const TIMEOUT_MS = 15_000;

async function once(path: string, init: RequestInit): Promise<Answer> {
  const headers = new Headers(init.headers);
  const token = getToken();
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  try {
    const res = await fetch(path, { ...init, headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
    const text = await res.text();
    let json: Record<string, unknown> | null = null;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        json = null;
      }
    }
    return { status: res.status, ok: res.ok, text, json };
  } catch (e) {
    // No HTTP answer at all: the serving node is down, or the request timed out.
    return { status: 0, ok: false, text: String(e), json: null };
  }
}

/** One API call; on 401 it asks for the token once and retries. */
export async function call(path: string, init: RequestInit = {}): Promise<Answer> {
  const a = await once(path, init);
  if (a.status !== 401) return a;
  if (!(await askToken())) return a;
  return once(path, init);
}

export const postJson = (path: string, body: unknown): Promise<Answer> =>
  call(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

export type Kind = 'ok' | 'error' | 'unknown';

/** How an answer reads to a person, and its kind for styling. */
export function describe(a: Answer, what: string): { kind: Kind; text: string } {
  if (a.ok) return { kind: 'ok', text: `${a.status} ${what}: ${a.text}` };
  if (a.status === 0) {
    return {
      kind: 'unknown',
      text: `${what}: no answer from this node (${a.text}); outcome unknown`,
    };
  }
  const j = a.json ?? {};
  const err = typeof j.error === 'string' ? j.error : 'Error';
  const msg = typeof j.message === 'string' ? j.message : '';
  if (a.status === 503) {
    const hint =
      j.leaderId !== undefined && j.leaderId !== null
        ? `leader hint: node ${String(j.leaderId)} at ${String(j.leader)}`
        : 'no leader known right now';
    return {
      kind: 'error',
      text: `503 ${err}: ${msg}\nnot applied (safe to retry); ${hint}\n${a.text}`,
    };
  }
  if (a.status === 504) {
    return {
      kind: 'unknown',
      text: `504 ${err}: ${msg}\noutcome UNKNOWN: it may or may not have been applied\n${a.text}`,
    };
  }
  return { kind: 'error', text: `${a.status} ${err}: ${msg}\n${a.text}` };
}

/** Writes an answer into an output box. */
export function show(el: HTMLElement, kind: Kind | 'info', text: string): void {
  el.dataset.kind = kind;
  el.textContent = text;
}
