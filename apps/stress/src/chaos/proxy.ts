/**
 * `LinkProxy` is a fault-injecting TCP proxy on one peer link: node `from` dials it instead of
 * node `to`'s raft port, and it relays bytes both ways. Each direction (`forward` = bytes from
 * `from` to `to`, `backward` = the answers) can independently be delayed, dropped or cut:
 *
 * - `delay`: every chunk is held `delayMs` (± `jitterMs`) before it is relayed, in order.
 * - `drop`: bytes vanish (a black hole, like a partition whose packets are lost). The TCP
 *   stream is then corrupt, so on heal every connection that lost bytes is reset; the peers
 *   reconnect as after a real network outage.
 * - `cut`: open connections are reset and new ones are accepted and reset at once (a link that
 *   refuses, as with a firewall REJECT rule).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type Direction = 'forward' | 'backward';

export interface DirectionFault {
  readonly mode: 'ok' | 'drop' | 'cut';
  readonly delayMs: number;
  readonly jitterMs: number;
}

export const HEALTHY: DirectionFault = { mode: 'ok', delayMs: 0, jitterMs: 0 };

interface Pipe {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Bytes were dropped in this direction, so the stream can no longer be trusted. */
  tainted: boolean;
  /** Time the last chunk per direction was (to be) delivered, to keep delayed chunks in order. */
  readonly lastDue: Record<Direction, number>;
}

export class LinkProxy {
  private server: Server | undefined;
  private readonly pipes = new Set<Pipe>();
  private readonly faults: Record<Direction, DirectionFault> = {
    forward: HEALTHY,
    backward: HEALTHY,
  };
  private random: () => number = Math.random;
  port = 0;
  /** Bytes relayed and dropped, for the report. */
  readonly stats = { relayed: 0, dropped: 0, resets: 0 };

  constructor(
    readonly from: string,
    readonly to: string,
    private readonly targetPort: number,
  ) {}

  /** Listens on 127.0.0.1 (`port` 0 = ephemeral) and resolves with the bound port. */
  async listen(port = 0, random: () => number = Math.random): Promise<number> {
    this.random = random;
    const server = createServer({ noDelay: true }, (s) => this.accept(s));
    this.server = server;
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(port, '127.0.0.1', () => res());
    });
    const a = server.address();
    this.port = typeof a === 'object' && a !== null ? a.port : 0;
    return this.port;
  }

  fault(d: Direction): DirectionFault {
    return this.faults[d];
  }

  isHealthy(): boolean {
    return this.faults.forward === HEALTHY && this.faults.backward === HEALTHY;
  }

  /** Sets one direction's fault. Cutting resets every open connection at once. */
  set(d: Direction, f: DirectionFault): void {
    this.faults[d] = f.mode === 'ok' && f.delayMs === 0 ? HEALTHY : f;
    if (f.mode === 'cut') for (const p of [...this.pipes]) this.reset(p);
  }

  /** Removes every fault; connections that lost bytes are reset so the peers reconnect. */
  heal(): void {
    this.faults.forward = HEALTHY;
    this.faults.backward = HEALTHY;
    for (const p of [...this.pipes]) if (p.tainted) this.reset(p);
  }

  async close(): Promise<void> {
    for (const p of [...this.pipes]) this.reset(p);
    const s = this.server;
    this.server = undefined;
    if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
  }

  private cutNow(): boolean {
    return this.faults.forward.mode === 'cut' || this.faults.backward.mode === 'cut';
  }

  private accept(client: Socket): void {
    if (this.cutNow()) {
      this.stats.resets++;
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort, noDelay: true });
    const pipe: Pipe = { client, upstream, tainted: false, lastDue: { forward: 0, backward: 0 } };
    this.pipes.add(pipe);
    client.on('data', (b) => this.relay(pipe, 'forward', b));
    upstream.on('data', (b) => this.relay(pipe, 'backward', b));
    const end = (): void => this.reset(pipe);
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
      s.on('end', end);
    }
  }

  private relay(p: Pipe, d: Direction, chunk: Buffer): void {
    const f = this.faults[d];
    if (f.mode !== 'ok') {
      // A cut direction has no open connections; bytes racing the reset vanish too.
      p.tainted = true;
      this.stats.dropped += chunk.length;
      return;
    }
    const out = d === 'forward' ? p.upstream : p.client;
    if (f.delayMs === 0 && f.jitterMs === 0 && p.lastDue[d] <= performance.now()) {
      this.stats.relayed += chunk.length;
      out.write(chunk);
      return;
    }
    const now = performance.now();
    const due = Math.max(p.lastDue[d], now + f.delayMs + this.random() * f.jitterMs);
    p.lastDue[d] = due;
    setTimeout(() => {
      if (!this.pipes.has(p)) return;
      this.stats.relayed += chunk.length;
      out.write(chunk);
    }, due - now).unref();
  }

  private reset(p: Pipe): void {
    if (!this.pipes.delete(p)) return;
    this.stats.resets++;
    for (const s of [p.client, p.upstream]) {
      try {
        s.resetAndDestroy();
      } catch {
        s.destroy();
      }
    }
  }
}
