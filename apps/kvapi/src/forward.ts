/**
 * `Forwarder` relays a write that reached a follower to the leader's HTTP address over a
 * keep-alive connection pool, so clients never hunt for the leader. The leader proposes it
 * (and so stamps the log time). A connection that was refused never carried the request, so
 * that failure is "definitely not applied" (503); any other failure after sending is 504.
 */
import http from 'node:http';
import { HttpError } from './http-errors.js';

/** Marks a request relayed by a follower; the receiver never relays it again. */
export const FORWARDED_HEADER = 'x-kvapi-forwarded';

const PASS_HEADERS = ['content-type', 'x-client-id', 'x-client-seq', 'x-client-ack'] as const;

export interface ForwardedResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

export class Forwarder {
  private readonly agent = new http.Agent({
    keepAlive: true,
    // Below the server's keep-alive timeout, so we never reuse a socket it is closing.
    keepAliveMsecs: 1000,
    maxSockets: 256,
    maxFreeSockets: 64,
    timeout: 60_000,
  });

  /** `secret`: sent as a bearer token, so the leader accepts relayed admin (and, with
   * `--http-auth all`, every) request; the follower checked the client's own token first. */
  constructor(
    private readonly self: string,
    private readonly secret?: string,
  ) {}

  forward(
    target: string,
    req: {
      method: string;
      url: string;
      headers: http.IncomingHttpHeaders;
      body: Buffer | undefined;
    },
    timeoutMs: number,
  ): Promise<ForwardedResponse> {
    const i = target.lastIndexOf(':');
    const host = target.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(target.slice(i + 1));
    const headers: Record<string, string> = { [FORWARDED_HEADER]: this.self };
    if (this.secret !== undefined) headers.authorization = `Bearer ${this.secret}`;
    for (const h of PASS_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    if (req.body !== undefined) headers['content-length'] = String(req.body.byteLength);
    return new Promise<ForwardedResponse>((resolve, reject) => {
      let sent = false;
      const r = http.request(
        { host, port, method: req.method, path: req.url, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            clearTimeout(timer);
            resolve({
              status: res.statusCode ?? 502,
              contentType: res.headers['content-type'],
              body: Buffer.concat(chunks),
            });
          });
          res.on('error', (e) => fail(e));
        },
      );
      const fail = (e: Error & { code?: string }): void => {
        clearTimeout(timer);
        r.destroy();
        if (!sent || e.code === 'ECONNREFUSED') {
          reject(
            new HttpError(503, 'LeaderUnreachable', `leader at ${target}: ${e.message}`, {
              leader: target,
            }),
          );
        } else {
          reject(new HttpError(504, 'ForwardFailed', `leader at ${target}: ${e.message}`));
        }
      };
      const timer = setTimeout(
        () =>
          fail(Object.assign(new Error(`no answer after ${timeoutMs} ms`), { code: 'TIMEOUT' })),
        timeoutMs,
      );
      r.on('error', fail);
      r.on('socket', (s) => {
        if (!s.connecting) sent = true;
        else s.once('connect', () => (sent = true));
      });
      r.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
