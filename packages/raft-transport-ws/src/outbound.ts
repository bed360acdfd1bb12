import type { Message, NodeId } from 'raft-core';
import WebSocket from 'ws';
import { encodeFrame } from './codec.js';
import {
  CloseCode,
  closeReason,
  decodeHello,
  decodeWelcome,
  encodeAuth,
  HandshakeError,
  type Lane,
  newNonce,
  proof,
  type Transcript,
  verifyProof,
} from './handshake.js';
import {
  type ResolvedOptions,
  tlsSecureOptions,
  type WsPeerError,
  type WsTransportCounters,
} from './options.js';
import type { Timers } from './timers.js';

/** What an {@link OutboundLane} needs from its transport. */
export interface LaneContext {
  readonly options: ResolvedOptions;
  readonly counters: WsTransportCounters;
  readonly timers: Timers;
  /** A handshake was refused (by either side); reported whatever the logger. */
  peerError(e: Omit<WsPeerError, 'at'>): void;
}

type LaneState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

/**
 * `OutboundLane` is this node's single outbound connection to one peer for one lane, with its
 * bounded queue. Connections are made lazily (on the first message), authenticated as a client
 * (handshake.ts), and re-made after a failure with jittered exponential backoff.
 *
 * Queue: `queue[head..]` awaits sending; `sizes[i]` is `messageSize(queue[i])`, and
 * `queuedBytes` is the sum of `sizes[head..]`. Invariant: `queue.length - head ≤
 * maxQueueMessages` and `queuedBytes ≤ maxQueueBytes`.
 *
 * NB: when a connection attempt fails or an open connection closes, the queue is dropped: Raft
 * resends what matters, and a peer that is down never accumulates stale messages beyond one
 * backoff period.
 */
export class OutboundLane {
  private state: LaneState = 'idle';
  private ws: WebSocket | null = null;
  private queue: Message[] = [];
  private sizes: number[] = [];
  private head = 0;
  queuedBytes = 0;
  private attempt = 0;
  /** The backoff timer (state backoff) or the handshake timer (state connecting). */
  private timer: object | null = null;
  private flushScheduled: object | null = null;
  private alive = true;
  private closeWaiters: Array<() => void> = [];
  /** Why the current connection attempt failed, when we know better than its close code. */
  private failReason: string | null = null;

  constructor(
    private readonly ctx: LaneContext,
    readonly peer: NodeId,
    readonly lane: Lane,
    private url: string,
  ) {}

  get queuedMessages(): number {
    return this.queue.length - this.head;
  }

  /** Bytes handed to the socket but not yet written to the kernel. */
  get bufferedBytes(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** True once authenticated and until the connection closes. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** True while a socket exists that has not finished its handshake. */
  get isPending(): boolean {
    return this.state === 'connecting';
  }

  /** Queue one message of encoded size `size` (drops it if the queue is full). */
  enqueue(m: Message, size: number): void {
    const o = this.ctx.options;
    if (this.state === 'closed') {
      this.ctx.counters.droppedStopped++;
      return;
    }
    if (this.queuedMessages >= o.maxQueueMessages || this.queuedBytes + size > o.maxQueueBytes) {
      this.ctx.counters.droppedQueueFull++;
      return;
    }
    this.queue.push(m);
    this.sizes.push(size);
    this.queuedBytes += size;
    if (this.state === 'open') this.scheduleFlush();
    else if (this.state === 'idle') this.connect();
  }

  /** Ping the open connection; terminate it if neither a pong nor a completed write came since the last ping. */
  ping(): void {
    const ws = this.ws;
    if (this.state !== 'open' || ws === null) return;
    if (!this.alive) {
      this.ctx.options.logger.warn(
        `no pong from peer ${this.peer} (${this.lane}); closing the connection`,
      );
      ws.terminate();
      return;
    }
    this.alive = false;
    ws.ping();
  }

  /** Point the lane at a new address; an existing connection is closed and re-made lazily. */
  setUrl(url: string): void {
    if (url === this.url) return;
    this.url = url;
    this.ws?.terminate();
  }

  /** Close for good: drop the queue, clear timers, terminate the socket; resolves once it closed. */
  close(): Promise<void> {
    this.state = 'closed';
    this.ctx.timers.clear(this.timer);
    this.ctx.timers.clear(this.flushScheduled);
    this.timer = null;
    this.flushScheduled = null;
    this.dropQueue('droppedStopped');
    const ws = this.ws;
    if (ws === null) return Promise.resolve();
    return new Promise((resolve) => {
      this.closeWaiters.push(resolve);
      ws.terminate();
    });
  }

  private connect(): void {
    const { options: o, timers } = this.ctx;
    this.state = 'connecting';
    const tls = o.tls;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url, {
        perMessageDeflate: false,
        maxPayload: o.maxFrameBytes,
        handshakeTimeout: o.handshakeTimeoutMs,
        followRedirects: false,
        ...(tls === null ? {} : tlsSecureOptions(tls)),
      });
    } catch (e) {
      // E.g. unusable TLS material: never let it escape through send().
      this.failed(`cannot dial: ${(e as Error).message}`, 0);
      return;
    }
    this.ws = ws;
    this.alive = true;
    this.timer = timers.timeout(() => {
      this.timer = null;
      this.failReason = 'handshake timed out';
      ws.terminate();
    }, o.handshakeTimeoutMs);

    const clientNonce = newNonce();
    let transcript: Transcript | null = null;
    ws.on('message', (data, isBinary) => {
      if (ws !== this.ws) return;
      try {
        if (!isBinary) throw new HandshakeError(CloseCode.HandshakeMalformed, 'text frame');
        const buf = data as Buffer;
        if (transcript === null) {
          const hello = decodeHello(buf);
          if (hello.clusterId !== o.clusterId) {
            throw new HandshakeError(
              CloseCode.WrongCluster,
              `peer is in cluster ${JSON.stringify(hello.clusterId)}`,
            );
          }
          if (hello.serverId !== this.peer) {
            throw new HandshakeError(
              CloseCode.WrongNode,
              `node ${JSON.stringify(hello.serverId)} answers at this address`,
            );
          }
          transcript = {
            clusterId: o.clusterId,
            clientId: o.nodeId,
            serverId: this.peer,
            lane: this.lane,
            serverNonce: hello.nonce,
            clientNonce,
          };
          const mac = proof(o.secret, 'client', transcript);
          ws.send(encodeAuth({ ...transcript, nonce: clientNonce, mac }));
        } else if (this.state === 'connecting') {
          const mac = decodeWelcome(buf);
          if (!verifyProof(proof(o.secret, 'server', transcript), mac)) {
            throw new HandshakeError(
              CloseCode.AuthFailed,
              'peer failed to prove the cluster secret',
            );
          }
          this.onOpen();
        } else {
          throw new HandshakeError(
            CloseCode.HandshakeMalformed,
            'unexpected frame from the server',
          );
        }
      } catch (e) {
        const code = e instanceof HandshakeError ? e.closeCode : CloseCode.HandshakeMalformed;
        this.failReason = e instanceof Error ? e.message : String(e);
        ws.close(code, closeReason(this.failReason));
        // The close handshake may never finish if the peer misbehaves; do not wait for it.
        this.ctx.timers.clear(this.timer);
        this.timer = timers.timeout(() => ws.terminate(), 1_000);
      }
    });
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('error', (err) => {
      this.failReason ??= err.message;
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  private onOpen(): void {
    this.ctx.timers.clear(this.timer);
    this.timer = null;
    this.state = 'open';
    this.attempt = 0;
    this.failReason = null;
    this.ctx.options.logger.info(`connected to peer ${this.peer} (${this.lane})`, {
      url: this.url,
    });
    this.scheduleFlush();
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = null;
    const timers = this.ctx.timers;
    timers.clear(this.timer);
    timers.clear(this.flushScheduled);
    this.timer = null;
    this.flushScheduled = null;
    if (this.state === 'closed') {
      for (const resolve of this.closeWaiters.splice(0)) resolve();
      return;
    }
    const why = this.failReason ?? (reason === '' ? `code ${code}` : `${reason} (code ${code})`);
    this.failReason = null;
    this.failed(why, code);
  }

  /**
   * The connection, or the attempt at one, ended (`code` is its close code, 0 if the socket could
   * not even be created): log, drop the queue, schedule the next attempt.
   */
  private failed(why: string, code: number): void {
    const { timers, options: o, counters } = this.ctx;
    if (this.state === 'open') {
      o.logger.info(`lost connection to peer ${this.peer} (${this.lane}): ${why}`);
    } else {
      counters.connectFailures++;
      // Refusals (4xxx) are configuration problems worth a warning; refused TCP is routine.
      const refused = code >= 4000 && code < 5000 && code !== CloseCode.Replaced;
      const level = code === 0 ? 'error' : refused ? 'warn' : 'debug';
      if (refused) {
        this.ctx.peerError({
          direction: 'outbound',
          peer: this.peer,
          code,
          message: why,
          remote: this.url,
        });
      }
      o.logger[level](`cannot connect to peer ${this.peer} (${this.lane}): ${why}`, {
        url: this.url,
        attempt: this.attempt,
      });
    }
    this.dropQueue('droppedUnreachable');
    const delay = Math.min(o.backoffMaxMs, o.backoffInitialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    this.state = 'backoff';
    this.timer = timers.timeout(
      () => {
        this.timer = null;
        this.state = 'idle';
        if (this.queuedMessages > 0) this.connect();
      },
      delay * (0.5 + 0.5 * o.random()),
    );
  }

  private dropQueue(counter: 'droppedUnreachable' | 'droppedStopped'): void {
    this.ctx.counters[counter] += this.queuedMessages;
    this.queue = [];
    this.sizes = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled !== null) return;
    // One flush per event-loop turn: everything sent during this turn shares frames.
    this.flushScheduled = this.ctx.timers.immediate(() => {
      this.flushScheduled = null;
      this.flush();
    });
  }

  /** A frame reached the kernel (`err` is null or undefined on success): resume a paused flush. */
  private readonly onWritten = (err?: Error | null): void => {
    if (err != null || this.state !== 'open') return;
    // NB: a write reaching the kernel is progress too. On a slow but healthy link the pong may
    // wait behind megabytes of buffered frames; a reader that stopped reading stops this (once
    // the kernel buffers fill) and then misses its ping.
    this.alive = true;
    if (this.queuedMessages > 0) this.scheduleFlush();
  };

  private flush(): void {
    const ws = this.ws;
    if (this.state !== 'open' || ws === null) return;
    const { options: o, counters } = this.ctx;
    const queue = this.queue;
    const sizes = this.sizes;
    // Backpressure: stop while the socket is backed up; the last write's callback resumes.
    while (this.head < queue.length && ws.bufferedAmount < o.highWaterMarkBytes) {
      const start = this.head;
      let body = sizes[start]!;
      let end = start + 1;
      while (end < queue.length && body + sizes[end]! <= o.maxBatchBytes) body += sizes[end++]!;
      this.head = end;
      this.queuedBytes -= body;
      let frame: Buffer;
      try {
        frame = encodeFrame(queue, start, end - start, body);
      } catch (e) {
        counters.droppedInvalid += end - start;
        o.logger.error(`dropping ${end - start} messages to ${this.peer}: ${(e as Error).message}`);
        continue;
      }
      counters.framesSent++;
      counters.messagesSent += end - start;
      counters.bytesSent += frame.length;
      ws.send(frame, { binary: true }, this.onWritten);
    }
    if (this.head === queue.length) {
      this.queue = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > queue.length) {
      this.queue = queue.slice(this.head);
      this.sizes = sizes.slice(this.head);
      this.head = 0;
    }
  }
}
