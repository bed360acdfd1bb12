/**
 * Server-Sent Events framing (WHATWG HTML §9.2): `formatSse` writes one event, `SseParser`
 * reads a stream of them back (used by the cluster feed to follow other members' `/events`,
 * and by tests). Data is always one JSON line, so no event spans several `data:` lines.
 */

export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

/** One event on the wire. `data` must not contain a newline (JSON.stringify never does). */
export function formatSse(event: string, data: unknown, id?: number): string {
  const idLine = id === undefined ? '' : `id: ${id}\n`;
  return `event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`;
}

/**
 * Incremental parser: feed it chunks as they arrive; it calls `onEvent` per complete event.
 * Comments (`:` lines) and `retry:` are skipped; an event without `event:` is a `message`.
 */
export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  private skipLf = false;

  constructor(private readonly onEvent: (e: SseEvent) => void) {}

  push(chunk: string): void {
    // A CRLF split across chunks: the CR already ended the line, so skip its LF.
    if (this.skipLf && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.skipLf = false;
    this.buf += chunk;
    for (;;) {
      const nl = this.buf.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = this.buf.slice(0, nl);
      const crlf = this.buf.startsWith('\r\n', nl);
      if (!crlf && this.buf[nl] === '\r' && nl === this.buf.length - 1) this.skipLf = true;
      this.buf = this.buf.slice(nl + (crlf ? 2 : 1));
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) {
        const e: SseEvent = { event: this.event || 'message', data: this.data.join('\n') };
        this.onEvent(this.id === undefined ? e : { ...e, id: this.id });
      }
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const c = line.indexOf(':');
    const name = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') this.event = value;
    else if (name === 'data') this.data.push(value);
    else if (name === 'id') this.id = value;
  }
}
