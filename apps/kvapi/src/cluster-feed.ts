/**
 * `ClusterFeed` gives `/events` its cluster-wide view: while someone watches, it follows every
 * other member's `/events?scope=local` stream over plain HTTP (the public route, with the
 * cluster secret when one is set) and relays their status snapshots and events. A member whose
 * stream cannot be opened, breaks, or goes silent is reported unreachable — from this node's
 * point of view — and retried every second.
 */
import http from 'node:http';
import type { EventLog } from './events.js';
import type { Directory } from './members.js';
import type { Reachability, StatusJson } from './schema.js';
import { type SseEvent, SseParser } from './sse.js';

export type FeedMessage =
  | { readonly type: 'status'; readonly data: StatusJson }
  | { readonly type: 'event'; readonly data: unknown }
  | { readonly type: 'reach'; readonly data: Reachability };

const RETRY_MS = 1000;

class PeerFeed {
  reach: Reachability;
  last: StatusJson | null = null;
  private req: http.ClientRequest | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private silence: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    readonly id: string,
    private address: string,
    private readonly opts: FeedOptions,
    private readonly emit: (m: FeedMessage) => void,
    private readonly log: EventLog,
  ) {
    this.reach = { id, reachable: false, since: Date.now(), error: 'connecting' };
    this.connect();
  }

  retarget(address: string): void {
    if (address === this.address) return;
    this.address = address;
    this.req?.destroy();
  }

  close(): void {
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    if (this.silence !== null) clearTimeout(this.silence);
    this.req?.destroy();
  }

  private connect(): void {
    this.retry = null;
    if (this.closed) return;
    const i = this.address.lastIndexOf(':');
    const host = this.address.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(this.address.slice(i + 1));
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.opts.secret !== undefined) headers.authorization = `Bearer ${this.opts.secret}`;
    const req = http.get(
      { host, port, path: `/events?scope=local&interval=${this.opts.intervalMs}`, headers },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          this.down(`HTTP ${res.statusCode}`);
          req.destroy();
          return;
        }
        res.setEncoding('utf8');
        const parser = new SseParser((e) => this.onEvent(e));
        this.feedAlive();
        res.on('data', (chunk: string) => {
          this.feedAlive();
          parser.push(chunk);
        });
        res.on('end', () => this.down('stream ended'));
        res.on('error', (e) => this.down(e.message));
      },
    );
    this.req = req;
    req.setTimeout(3 * this.opts.intervalMs + 2000, () => req.destroy(new Error('timed out')));
    req.on('error', (e) => this.down((e as NodeJS.ErrnoException).code ?? e.message));
    req.on('close', () => {
      if (this.req === req) this.req = null;
      this.down('connection closed');
      if (!this.closed && this.retry === null) {
        this.retry = setTimeout(() => this.connect(), RETRY_MS);
        this.retry.unref();
      }
    });
  }

  /** A stream that stays silent for three intervals is as good as down (e.g. a paused node). */
  private feedAlive(): void {
    if (this.silence !== null) clearTimeout(this.silence);
    this.silence = setTimeout(() => this.req?.destroy(), 3 * this.opts.intervalMs + 1000);
    this.silence.unref();
  }

  private onEvent(e: SseEvent): void {
    let data: unknown;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    if (e.event === 'status') {
      this.last = data as StatusJson;
      this.up();
      this.emit({ type: 'status', data: this.last });
    } else if (e.event === 'event') {
      this.emit({ type: 'event', data });
    }
  }

  private up(): void {
    if (this.reach.reachable) return;
    const wasDown = this.reach.error !== 'connecting';
    this.reach = { id: this.id, reachable: true, since: Date.now() };
    this.emit({ type: 'reach', data: this.reach });
    if (wasDown) {
      this.log.record({
        kind: 'up',
        subject: this.id,
        text: `${this.opts.self} reaches ${this.id} again`,
      });
    }
  }

  private down(error: string): void {
    if (this.silence !== null) clearTimeout(this.silence);
    if (this.closed) return;
    const was = this.reach;
    if (!was.reachable && was.error !== 'connecting') return;
    this.reach = { id: this.id, reachable: false, since: Date.now(), error };
    this.last = null;
    this.emit({ type: 'reach', data: this.reach });
    this.log.record({
      kind: 'down',
      subject: this.id,
      text: `${this.opts.self} cannot reach ${this.id} (${error})`,
    });
  }
}

export interface FeedOptions {
  readonly self: string;
  readonly secret: string | undefined;
  readonly intervalMs: number;
}

/** Follows the other members while at least one subscriber watches. */
export class ClusterFeed {
  private readonly feeds = new Map<string, PeerFeed>();
  private readonly listeners = new Set<(m: FeedMessage) => void>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly opts: FeedOptions,
    private readonly directory: Directory,
    private readonly members: () => readonly string[],
    private readonly log: EventLog,
  ) {}

  /** Current view of each other member (for a new subscriber). */
  snapshot(): { reach: Reachability[]; statuses: StatusJson[] } {
    const feeds = [...this.feeds.values()];
    return {
      // A feed still opening its first connection knows nothing yet: not "unreachable".
      reach: feeds.filter((f) => f.reach.error !== 'connecting').map((f) => f.reach),
      statuses: feeds.flatMap((f) => (f.last === null ? [] : [f.last])),
    };
  }

  subscribe(fn: (m: FeedMessage) => void): () => void {
    this.listeners.add(fn);
    if (this.timer === null) {
      this.sync();
      this.timer = setInterval(() => this.sync(), RETRY_MS);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.close();
    };
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const f of this.feeds.values()) f.close();
    this.feeds.clear();
  }

  /** Follows the current configuration's members (they may change at any time). */
  private sync(): void {
    const want = new Map<string, string>();
    for (const id of this.members()) {
      if (id === this.opts.self) continue;
      const addr = this.directory.httpOf(id);
      if (addr !== null) want.set(id, addr);
    }
    for (const [id, addr] of want) {
      const f = this.feeds.get(id);
      if (f === undefined) {
        const feed = new PeerFeed(id, addr, this.opts, (m) => this.fanOut(m), this.log);
        this.feeds.set(id, feed);
      } else f.retarget(addr);
    }
    for (const [id, f] of this.feeds) {
      if (want.has(id)) continue;
      f.close();
      this.feeds.delete(id);
      this.fanOut({
        type: 'reach',
        data: { id, reachable: false, since: Date.now(), error: 'not a member' },
      });
    }
  }

  private fanOut(m: FeedMessage): void {
    for (const l of this.listeners) l(m);
  }
}
