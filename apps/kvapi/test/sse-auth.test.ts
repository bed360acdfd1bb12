/** SSE framing round trips through the parser, and which routes need the bearer token. */
import { describe, expect, it } from 'vitest';
import { needsToken, tokenMatches } from '../src/auth.js';
import { formatSse, type SseEvent, SseParser } from '../src/sse.js';

function parseAll(chunks: readonly string[]): SseEvent[] {
  const out: SseEvent[] = [];
  const p = new SseParser((e) => out.push(e));
  for (const c of chunks) p.push(c);
  return out;
}

describe('SSE framing', () => {
  it('round-trips events split at every byte', () => {
    const wire = `retry: 1000\n\n: comment\n${formatSse('status', { a: 'x\ny', n: 1 })}${formatSse('event', [1, 2], 7)}`;
    for (let cut = 0; cut <= wire.length; cut++) {
      const got = parseAll([wire.slice(0, cut), wire.slice(cut)]);
      expect(got).toEqual([
        { event: 'status', data: '{"a":"x\\ny","n":1}' },
        { event: 'event', data: '[1,2]', id: '7' },
      ]);
    }
  });

  it('accepts CRLF and CR line ends, multi-line data and unnamed events', () => {
    expect(parseAll(['data: a\r\ndata: b\r\n\r\nevent: x\rdata:c\r\r'])).toEqual([
      { event: 'message', data: 'a\nb' },
      { event: 'x', data: 'c' },
    ]);
    // A CRLF split between chunks is one line end, not two.
    expect(parseAll(['data: a\r', '\n\r', '\n'])).toEqual([{ event: 'message', data: 'a' }]);
  });
});

describe('HTTP auth', () => {
  const admin = { secret: 's3cret', httpAuth: 'admin' as const };
  const all = { secret: 's3cret', httpAuth: 'all' as const };

  it('without a secret nothing needs a token', () => {
    for (const path of ['/admin/transfer', '/kv/x', '/events'])
      expect(needsToken({ secret: undefined, httpAuth: 'all' }, path)).toBe(false);
  });

  it('admin: only /admin/*; all: everything but the page', () => {
    expect(needsToken(admin, '/admin/learner')).toBe(true);
    expect(needsToken(admin, '/kv/x')).toBe(false);
    expect(needsToken(admin, '/events')).toBe(false);
    expect(needsToken(all, '/kv/x')).toBe(true);
    expect(needsToken(all, '/status')).toBe(true);
    expect(needsToken(all, '/events')).toBe(true);
    expect(needsToken(all, '/ui')).toBe(false);
    expect(needsToken(all, '/ui/app.js')).toBe(false);
    expect(needsToken(all, '/uix')).toBe(true);
  });

  it('accepts exactly "Bearer <secret>"', () => {
    expect(tokenMatches('Bearer s3cret', 's3cret')).toBe(true);
    expect(tokenMatches('bearer s3cret', 's3cret')).toBe(true);
    expect(tokenMatches('Bearer s3cre', 's3cret')).toBe(false);
    expect(tokenMatches('Bearer s3cretX', 's3cret')).toBe(false);
    expect(tokenMatches('Basic s3cret', 's3cret')).toBe(false);
    expect(tokenMatches(undefined, 's3cret')).toBe(false);
  });
});
