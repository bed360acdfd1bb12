/**
 * Strict request decoding: keys and values must be well-formed UTF-8, numbers must be
 * numbers, and known query parameters only take their documented values. Every failure is a
 * 400 `HttpError` before anything reaches raft.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Session } from 'raft-kv';
import { badRequest } from './http-errors.js';

/** Set in a parsed query when some name or value was not valid percent-encoded UTF-8. */
export const INVALID_QUERY = '\u0000invalid';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Percent-decodes `s` as UTF-8; raw non-ASCII bytes (latin1 from Node) count as bytes too. */
function percentDecode(s: string): string {
  const escaped = /[\u0080-\u00ff]/.test(s)
    ? s.replace(/[\u0080-\u00ff]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)
    : s;
  return decodeURIComponent(escaped); // throws URIError on invalid UTF-8
}

/** fastify's `querystringParser`: `+` is a space (as Go's url.ParseQuery); last value wins. */
export function parseQuery(s: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (s === '') return out;
  for (const part of s.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' ');
    const v = (eq < 0 ? '' : part.slice(eq + 1)).replace(/\+/g, ' ');
    try {
      out[percentDecode(k)] = percentDecode(v);
    } catch {
      out[INVALID_QUERY] = k;
    }
  }
  return out;
}

/** The query of a request, or a 400 if any part of it was not valid UTF-8. */
export function query(q: unknown): Record<string, string> {
  const r = (q ?? {}) as Record<string, string>;
  if (r[INVALID_QUERY] !== undefined) {
    throw badRequest('query string is not valid percent-encoded UTF-8', 'InvalidUtf8');
  }
  return r;
}

/** The key in a `/prefix/<key>` URL path (percent-decoded, `+` kept), or a 400. */
export function keyFromPath(url: string, prefix: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  let key: string;
  try {
    key = percentDecode(path.slice(prefix.length));
  } catch {
    throw badRequest('key is not valid percent-encoded UTF-8', 'InvalidUtf8');
  }
  return requireKey(key);
}

export function requireKey(key: string | undefined): string {
  if (key === undefined) throw badRequest('missing key', 'MissingKey');
  if (key === '') throw badRequest('empty key', 'EmptyKey');
  return key;
}

/** Decodes a request body as UTF-8 (empty when absent), or a 400. */
export function bodyText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (!(body instanceof Uint8Array)) return String(body);
  try {
    return utf8.decode(body);
  } catch {
    throw badRequest('body is not valid UTF-8', 'InvalidUtf8');
  }
}

/** Parses a JSON body, or a 400. */
export function bodyJson(body: unknown): unknown {
  const text = bodyText(body);
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('body is not valid JSON', 'InvalidJson');
  }
}

/** A non-negative integer query parameter (`def` when absent), or a 400. */
export function intParam(q: Record<string, string>, name: string, def: number): number {
  const v = q[name];
  if (v === undefined) return def;
  if (!/^\d{1,9}$/.test(v)) {
    throw badRequest(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** A query parameter restricted to `allowed` values (`def` when absent), or a 400. */
export function enumParam<T extends string>(
  q: Record<string, string>,
  name: string,
  allowed: readonly T[],
  def: T,
): T {
  const v = q[name];
  if (v === undefined) return def;
  if (!(allowed as readonly string[]).includes(v)) {
    throw badRequest(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;
const SEQ = /^\d{1,15}$/;

/**
 * The client session of a write from `X-Client-Id` + `X-Client-Seq` (+ `X-Client-Ack`):
 * undefined without them, a 400 when malformed or when only one of the pair is given.
 */
export function sessionOf(headers: IncomingHttpHeaders): Session | undefined {
  const id = headers['x-client-id'];
  const seq = headers['x-client-seq'];
  const ack = headers['x-client-ack'];
  if (id === undefined && seq === undefined) {
    if (ack !== undefined) throw badRequest('X-Client-Ack without X-Client-Id', 'BadSession');
    return undefined;
  }
  if (typeof id !== 'string' || !CLIENT_ID.test(id)) {
    throw badRequest('X-Client-Id must be 1-128 visible ASCII characters', 'BadSession');
  }
  if (typeof seq !== 'string' || !SEQ.test(seq)) {
    throw badRequest('X-Client-Seq must be a non-negative integer', 'BadSession');
  }
  if (ack !== undefined && (typeof ack !== 'string' || !SEQ.test(ack))) {
    throw badRequest('X-Client-Ack must be a non-negative integer', 'BadSession');
  }
  return ack === undefined
    ? { clientId: id, seq: Number(seq) }
    : { clientId: id, seq: Number(seq), ack: Number(ack) };
}
