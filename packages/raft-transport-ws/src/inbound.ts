import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Message, NodeId } from 'raft-core';
import { type WebSocket, WebSocketServer } from 'ws';
import { decodeMessages } from './codec.js';
import { WsTransportError } from './errors.js';
import {
  type Auth,
  CloseCode,
  closeReason,
  decodeAuth,
  encodeHello,
  encodeWelcome,
  HandshakeError,
  type Lane,
  newNonce,
  proof,
  type Transcript,
  verifyProof,
} from './handshake.js';
import { tlsSecureOptions } from './options.js';
import type { LaneContext } from './outbound.js';

/** The HTTP path peers upgrade on. */
export const WS_PATH = '/tsraft';

/** What the {@link InboundServer} needs from its transport. */
export interface InboundContext extends LaneContext {
  isPeer(id: NodeId): boolean;
  /** Hand one message to the handler; false if there is none (not started, or stopped). */
  deliver(m: Message): boolean;
}

interface Conn {
  readonly socket: Duplex;
  readonly remote: string;
  /** Set once authenticated. */
  peer: NodeId | null;
  lane: Lane | null;
  alive: boolean;
  warnedMisaddressed: boolean;
}

/**
 * `InboundServer` accepts peers' connections: HTTP upgrade on {@link WS_PATH}, the server side of
 * the auth handshake, then decoding frames and delivering their messages. Inbound connections are
 * receive-only; each (peer, lane) keeps only its newest connection.
 *
 * Bounded resources: at most `maxPendingHandshakes` sockets may be unauthenticated at once, each
 * for at most `handshakeTimeoutMs`; frames are capped at `maxFrameBytes` (ws `maxPayload`).
 */
export class InboundServer {
  private server: Server | null = null;
  private readonly wss: WebSocketServer;
  /** Unauthenticated sockets → their handshake timer. */
  private readonly pending = new Map<Duplex, object>();
  private readonly conns = new Map<WebSocket, Conn>();
  private readonly byPeerLane = new Map<string, WebSocket>();
  private closing = false;
  /** The bind in flight or done (close waits for it, so a late bind cannot leak the port). */
  private bound: Promise<void> | null = null;

  constructor(private readonly ctx: InboundContext) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: ctx.options.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get authenticatedCount(): number {
    return this.byPeerLane.size;
  }

  /** Bind the listen address. */
  async listen(): Promise<AddressInfo> {
    const o = this.ctx.options;
    let server: Server;
    try {
      server =
        o.tls === null
          ? createServer()
          : createHttpsServer({
              ...tlsSecureOptions(o.tls),
              requestCert: true,
              handshakeTimeout: o.handshakeTimeoutMs,
              minVersion: 'TLSv1.2',
            });
    } catch (cause) {
      throw new WsTransportError(
        'InvalidOptions',
        `unusable tls options: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    this.server = server;
    server.on(o.tls === null ? 'connection' : 'secureConnection', (socket: Socket) =>
      this.onSocket(socket),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    server.on('request', (_req, res) => {
      res.writeHead(426, { connection: 'close' }).end();
    });
    server.on('clientError', (err, socket) => {
      o.logger.debug('dropping a malformed HTTP connection', { error: err.message });
      socket.destroy();
    });
    server.on('tlsClientError', (err: Error) => {
      this.ctx.counters.handshakesRefused++;
      o.logger.warn(`refused a TLS connection: ${err.message}`);
      // 1015: the close code WebSocket reserves for a failed TLS handshake.
      this.ctx.peerError({
        direction: 'inbound',
        peer: null,
        code: 1015,
        message: `TLS: ${err.message}`,
        remote: '',
      });
    });
    this.bound = new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new WsTransportError(
            'Listen',
            `cannot listen on ${o.listen.host ?? ''}:${o.listen.port}: ${err.message}`,
            { cause: err },
          ),
        );
      };
      server.once('error', onError);
      server.listen(
        { port: o.listen.port, ...(o.listen.host === null ? {} : { host: o.listen.host }) },
        () => {
          server.off('error', onError);
          server.on('error', (err) => o.logger.error(`server error: ${err.message}`));
          resolve();
        },
      );
    });
    await this.bound;
    return server.address() as AddressInfo;
  }

  address(): AddressInfo | null {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? a : null;
  }

  private onSocket(socket: Duplex): void {
    const { options: o, counters, timers } = this.ctx;
    if (this.closing || this.pending.size >= o.maxPendingHandshakes) {
      counters.handshakesRefused++;
      o.logger.warn('refused a connection: too many pending handshakes', {
        pending: this.pending.size,
      });
      socket.destroy();
      return;
    }
    const timer = timers.timeout(() => {
      this.pending.delete(socket);
      counters.handshakesRefused++;
      o.logger.warn('closing a connection that did not complete its handshake in time', {
        remote: remoteOf(socket),
        timeoutMs: o.handshakeTimeoutMs,
      });
      this.ctx.peerError({
        direction: 'inbound',
        peer: null,
        code: CloseCode.HandshakeTimeout,
        message: 'handshake not completed in time',
        remote: remoteOf(socket),
      });
      socket.destroy();
    }, o.handshakeTimeoutMs);
    this.pending.set(socket, timer);
    socket.once('close', () => this.settle(socket));
  }

  /** The socket authenticated or closed: stop its handshake timer. */
  private settle(socket: Duplex): void {
    const timer = this.pending.get(socket);
    if (timer === undefined) return;
    this.pending.delete(socket);
    this.ctx.timers.clear(timer);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closing || (req.url ?? '').split('?')[0] !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket));
  }

  private onConnection(ws: WebSocket, socket: Duplex): void {
    const conn: Conn = {
      socket,
      remote: remoteOf(socket),
      peer: null,
      lane: null,
      alive: true,
      warnedMisaddressed: false,
    };
    this.conns.set(ws, conn);
    const serverNonce = newNonce();
    ws.on('error', (err) =>
      this.ctx.options.logger.debug(`inbound connection error: ${err.message}`, {
        remote: conn.remote,
      }),
    );
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('close', () => {
      this.conns.delete(ws);
      if (conn.peer !== null && this.byPeerLane.get(key(conn.peer, conn.lane!)) === ws) {
        this.byPeerLane.delete(key(conn.peer, conn.lane!));
        this.ctx.options.logger.info(`peer ${conn.peer} (${conn.lane}) disconnected`);
      }
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        this.refuseOrClose(ws, conn, CloseCode.InvalidPayload, 'text frames are not accepted');
        return;
      }
      if (conn.peer === null) this.onAuth(ws, conn, data as Buffer, serverNonce);
      else this.onFrame(ws, conn, data as Buffer);
    });
    ws.send(
      encodeHello({
        clusterId: this.ctx.options.clusterId,
        serverId: this.ctx.options.nodeId,
        nonce: serverNonce,
      }),
    );
  }

  private onAuth(ws: WebSocket, conn: Conn, buf: Buffer, serverNonce: Uint8Array): void {
    const o = this.ctx.options;
    let auth: Auth;
    try {
      auth = decodeAuth(buf);
    } catch (e) {
      const code = e instanceof HandshakeError ? e.closeCode : CloseCode.HandshakeMalformed;
      this.refuseOrClose(ws, conn, code, (e as Error).message);
      return;
    }
    const who = { node: auth.clientId, cluster: auth.clusterId };
    if (auth.clusterId !== o.clusterId) {
      this.refuseOrClose(
        ws,
        conn,
        CloseCode.WrongCluster,
        `wrong cluster ${JSON.stringify(auth.clusterId)}`,
        who,
      );
      return;
    }
    if (auth.serverId !== o.nodeId) {
      this.refuseOrClose(
        ws,
        conn,
        CloseCode.WrongNode,
        `addressed to node ${JSON.stringify(auth.serverId)}`,
        who,
      );
      return;
    }
    if (!this.ctx.isPeer(auth.clientId)) {
      this.refuseOrClose(
        ws,
        conn,
        CloseCode.UnknownNode,
        `unknown node ${JSON.stringify(auth.clientId)}`,
        who,
      );
      return;
    }
    const t: Transcript = { ...auth, serverNonce, clientNonce: auth.nonce };
    if (!verifyProof(proof(o.secret, 'client', t), auth.mac)) {
      const why =
        o.secret === null
          ? 'peer sent a mac but no secret is configured here'
          : 'wrong secret or replayed handshake';
      this.refuseOrClose(ws, conn, CloseCode.AuthFailed, `authentication failed: ${why}`, who);
      return;
    }
    this.settle(conn.socket);
    const k = key(auth.clientId, auth.lane);
    const previous = this.byPeerLane.get(k);
    conn.peer = auth.clientId;
    conn.lane = auth.lane;
    this.byPeerLane.set(k, ws);
    previous?.terminate();
    ws.send(encodeWelcome(proof(o.secret, 'server', t)));
    o.logger.info(`accepted peer ${auth.clientId} (${auth.lane})`, { remote: conn.remote });
  }

  private onFrame(ws: WebSocket, conn: Conn, buf: Buffer): void {
    const { counters, options: o } = this.ctx;
    conn.alive = true;
    counters.framesReceived++;
    counters.bytesReceived += buf.length;
    let messages: Message[];
    try {
      messages = decodeMessages(buf);
    } catch (e) {
      counters.decodeErrors++;
      this.refuseOrClose(ws, conn, CloseCode.InvalidPayload, (e as Error).message);
      return;
    }
    for (const m of messages) {
      if (m.to !== o.nodeId || m.from !== conn.peer) {
        counters.droppedMisaddressed++;
        if (!conn.warnedMisaddressed) {
          conn.warnedMisaddressed = true;
          o.logger.warn(`dropping misaddressed messages from peer ${conn.peer}`, {
            from: m.from,
            to: m.to,
          });
        }
        continue;
      }
      if (!this.ctx.deliver(m)) counters.droppedStopped++;
      else counters.messagesReceived++;
    }
  }

  /** Refuse a handshake or close a misbehaving connection, log why, and make sure it dies. */
  private refuseOrClose(
    ws: WebSocket,
    conn: Conn,
    code: number,
    why: string,
    fields: Record<string, unknown> = {},
  ): void {
    const o = this.ctx.options;
    if (conn.peer === null) {
      this.ctx.counters.handshakesRefused++;
      o.logger.warn(`refused connection: ${why}`, { remote: conn.remote, ...fields });
      this.ctx.peerError({
        direction: 'inbound',
        peer: typeof fields.node === 'string' ? fields.node : null,
        code,
        message: why,
        remote: conn.remote,
      });
    } else {
      o.logger.warn(`closing connection from peer ${conn.peer}: ${why}`, { remote: conn.remote });
    }
    ws.close(code, closeReason(why));
    // Do not wait for a close handshake the peer may never answer.
    const timer = this.ctx.timers.timeout(() => ws.terminate(), 1_000);
    ws.once('close', () => this.ctx.timers.clear(timer));
  }

  /** Ping every authenticated connection; terminate those that missed the previous ping. */
  ping(): void {
    for (const [ws, conn] of this.conns) {
      if (conn.peer === null) continue;
      if (!conn.alive) {
        this.ctx.options.logger.warn(
          `no pong from peer ${conn.peer} (${conn.lane}); closing the connection`,
        );
        ws.terminate();
        continue;
      }
      conn.alive = false;
      ws.ping();
    }
  }

  /** Close the inbound connections of a peer that was removed. */
  dropPeer(id: NodeId): void {
    for (const [ws, conn] of this.conns) if (conn.peer === id) ws.terminate();
  }

  /** Stop accepting, terminate every connection, and release the port. */
  async close(): Promise<void> {
    this.closing = true;
    await this.bound?.catch(() => {});
    const closed: Promise<void>[] = [];
    for (const ws of this.conns.keys()) {
      closed.push(new Promise((resolve) => ws.once('close', () => resolve())));
      ws.terminate();
    }
    for (const socket of [...this.pending.keys()]) {
      this.settle(socket);
      socket.destroy();
    }
    this.wss.close();
    const server = this.server;
    if (server !== null) {
      closed.push(new Promise((resolve) => server.close(() => resolve())));
      server.closeAllConnections();
    }
    await Promise.all(closed);
  }
}

function key(peer: NodeId, lane: Lane): string {
  return `${lane}\u0000${peer}`;
}

function remoteOf(socket: Duplex): string {
  const s = socket as Partial<Socket>;
  return s.remoteAddress === undefined ? 'unknown' : `${s.remoteAddress}:${s.remotePort}`;
}
