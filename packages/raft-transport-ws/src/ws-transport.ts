import type { Message, MessageHandler, NodeId, Transport } from 'raft-core';
import { formatHost, parseAddress } from './address.js';
import { FRAME_HEADER_MAX_BYTES, messageSize } from './codec.js';
import { WsTransportError } from './errors.js';
import { type InboundContext, InboundServer, WS_PATH } from './inbound.js';
import {
  checkId,
  newCounters,
  type ResolvedOptions,
  resolveOptions,
  type WsPeerError,
  type WsPeerStatus,
  type WsTransportCounters,
  type WsTransportOptions,
  type WsTransportStats,
} from './options.js';
import { OutboundLane } from './outbound.js';
import { Timers } from './timers.js';

interface Peer {
  address: string;
  url: string;
  readonly msg: OutboundLane;
  /** Created on the first snapshot chunk, so MsgSnap never queues behind (or ahead of) heartbeats. */
  snap: OutboundLane | null;
}

/**
 * `WsTransport` is a raft-core {@link Transport} over WebSocket binary frames, for peers in
 * separate processes or machines.
 *
 * Each node dials one outbound connection per peer (plus a second, lazily, for snapshot chunks)
 * and only sends on it; it receives on the connections its peers dial. So two nodes share two
 * sockets, one per direction, and never race to de-duplicate them. Every connection starts with
 * an HMAC challenge–response handshake proving cluster, node id and the shared secret.
 *
 * Messages queued during one event-loop turn go out as one frame per peer (split at
 * `maxBatchBytes`). Queues are bounded and drop when full or when the peer is unreachable —
 * Raft retransmits.
 */
export class WsTransport implements Transport {
  private readonly options: ResolvedOptions;
  private readonly counters: WsTransportCounters = newCounters();
  private readonly timers = new Timers();
  private readonly peers = new Map<NodeId, Peer>();
  private readonly server: InboundServer;
  private readonly ctx: InboundContext;
  private handler: MessageHandler | null = null;
  private state: 'new' | 'started' | 'stopped' = 'new';
  private listening: Promise<{ host: string; port: number }> | null = null;
  private pingTimer: object | null = null;
  private stopping: Promise<void> | null = null;
  private readonly peerErrorListeners = new Set<(e: WsPeerError) => void>();
  /** The latest refused handshake per configured peer. */
  private readonly lastErrors = new Map<NodeId, WsPeerError>();

  /** Throws `WsTransportError` (`InvalidOptions`, `InvalidAddress`) for bad options. */
  constructor(options: WsTransportOptions) {
    this.options = resolveOptions(options);
    this.ctx = {
      options: this.options,
      counters: this.counters,
      timers: this.timers,
      isPeer: (id: NodeId) => this.peers.has(id),
      deliver: (m: Message) => this.deliver(m),
      peerError: (e) => this.onPeerError({ ...e, at: Date.now() }),
    };
    this.server = new InboundServer(this.ctx);
    const peers =
      options.peers instanceof Map ? options.peers : new Map(Object.entries(options.peers ?? {}));
    for (const [id, address] of peers) this.addPeer(id, address);
  }

  /**
   * Bind the listen address without delivering yet (messages that arrive before `start` are
   * dropped). Useful to learn the port picked for `:0` before configuring peers. Idempotent.
   */
  listen(): Promise<{
    /** The bound address. */
    host: string;
    /** The bound port (the real one for `:0`). */
    port: number;
  }> {
    if (this.state === 'stopped')
      return Promise.reject(new WsTransportError('Stopped', 'transport stopped'));
    this.listening ??= this.server.listen().then((a) => ({ host: a.address, port: a.port }));
    return this.listening;
  }

  /**
   * Start listening (if not yet) and delivering inbound messages to `handler`.
   *
   * Correctness:
   * - only messages whose `to` is this node and whose `from` is the authenticated peer that sent
   *   them are delivered;
   * - the handler is never called after `stop()` is called (not only after it resolves);
   * - a throwing handler is logged and does not affect other messages;
   * - rejects with `WsTransportError` (`Listen`) if the address cannot be bound, (`Stopped`) after
   *   `stop()`.
   */
  async start(handler: MessageHandler): Promise<void> {
    if (this.state === 'stopped')
      throw new WsTransportError('Stopped', 'transport stopped; create a new one');
    if (this.state === 'started')
      throw new WsTransportError('InvalidOptions', 'transport already started');
    this.state = 'started';
    this.handler = handler;
    const o = this.options;
    if (o.secret === null) {
      o.logger.warn(
        `transport is UNAUTHENTICATED: no secret configured, so anyone who can reach this node can join cluster ${JSON.stringify(o.clusterId)} and inject Raft messages; set \`secret\` (and \`tls\`)`,
      );
    }
    const address = await this.listen();
    if ((this.state as string) === 'stopped') return; // stop() was called while binding
    if (o.pingIntervalMs > 0)
      this.pingTimer = this.timers.interval(() => this.ping(), o.pingIntervalMs);
    o.logger.info(`node ${o.nodeId} listening on ${formatHost(address.host)}:${address.port}`, {
      tls: o.tls !== null,
    });
  }

  /**
   * Queue `messages` for peer `to`; they leave in one frame per peer at the end of this
   * event-loop turn (MsgSnap on its own connection).
   *
   * Correctness:
   * - never throws: messages to an unknown, unreachable or slow peer, messages after `stop()`,
   *   and messages the codec cannot carry (logged) are dropped and counted in `stats()`;
   * - bounded memory: each peer's queue holds at most `maxQueueMessages` / `maxQueueBytes`
   *   per lane, and writing pauses while the socket holds more than `highWaterMarkBytes`;
   * - a message whose `to` is not `to`, or larger than `maxFrameBytes`, is dropped;
   * - no ordering guarantee across lanes or reconnects (in order within one connection).
   */
  send(to: NodeId, messages: readonly Message[]): void {
    const c = this.counters;
    if (this.state === 'stopped') {
      c.droppedStopped += messages.length;
      return;
    }
    const peer = this.peers.get(to);
    if (peer === undefined) {
      c.droppedUnknownPeer += messages.length;
      return;
    }
    for (const m of messages) {
      let size: number;
      try {
        if (m.to !== to) {
          c.droppedMisaddressed++;
          continue;
        }
        size = messageSize(m);
      } catch (e) {
        c.droppedInvalid++;
        this.options.logger.error(
          `dropping a message to ${to} that cannot be encoded: ${(e as Error).message}`,
        );
        continue;
      }
      if (size + FRAME_HEADER_MAX_BYTES > this.options.maxFrameBytes) {
        c.droppedTooLarge++;
        this.options.logger.warn(
          `dropping a ${m.type} to ${to}: ${size} bytes exceeds maxFrameBytes`,
        );
        continue;
      }
      if (m.type === 'MsgSnap') {
        peer.snap ??= new OutboundLane(this.ctx, to, 'snap', peer.url);
        peer.snap.enqueue(m, size);
      } else {
        peer.msg.enqueue(m, size);
      }
    }
  }

  /**
   * Stop: no more deliveries, refuse and close every connection, clear every timer, release the
   * port. Idempotent; resolves once every socket has closed.
   *
   * Correctness: after it resolves `stats().timers`, connections and queues are all 0.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.state = 'stopped';
    this.handler = null;
    this.timers.clear(this.pingTimer);
    const closing: Promise<void>[] = [];
    for (const peer of this.peers.values()) {
      closing.push(peer.msg.close());
      if (peer.snap !== null) closing.push(peer.snap.close());
    }
    closing.push(this.server.close());
    await Promise.all(closing);
    this.timers.clearAll();
    this.options.logger.info(`node ${this.options.nodeId} transport stopped`);
  }

  /**
   * Add a peer, or change its address (its outbound connections are re-made). Only peers may
   * connect. Throws `WsTransportError` for an invalid id or address.
   */
  addPeer(id: NodeId, address: string): void {
    checkId(id, 'peer id');
    const { host, port } = parseAddress(address);
    if (id === this.options.nodeId) return;
    const scheme = this.options.tls === null ? 'ws' : 'wss';
    const url = `${scheme}://${formatHost(host ?? '127.0.0.1')}:${port}${WS_PATH}`;
    const peer = this.peers.get(id);
    if (peer !== undefined) {
      peer.address = address;
      peer.url = url;
      peer.msg.setUrl(url);
      peer.snap?.setUrl(url);
      return;
    }
    this.peers.set(id, {
      address,
      url,
      msg: new OutboundLane(this.ctx, id, 'msg', url),
      snap: null,
    });
  }

  /** Remove a peer: drop its queues, close its connections both ways, refuse it from now on. */
  removePeer(id: NodeId): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    this.lastErrors.delete(id);
    void peer.msg.close();
    void peer.snap?.close();
    this.server.dropPeer(id);
  }

  /**
   * Subscribe to refused handshakes in either direction (see {@link WsPeerError}): a peer with
   * the wrong secret or cluster id is visible here even without a logger. Every refusal is
   * reported (the logger's copies are rate-limited). Returns the unsubscribe function.
   */
  on(event: 'peerError', listener: (e: WsPeerError) => void): () => void {
    if (event !== 'peerError')
      throw new WsTransportError('InvalidOptions', `unknown event ${event}`);
    this.peerErrorListeners.add(listener);
    return () => this.peerErrorListeners.delete(listener);
  }

  /** Every configured peer: its address, whether it is connected, and its latest refusal. */
  peerStatus(): Record<NodeId, WsPeerStatus> {
    const out: Record<NodeId, WsPeerStatus> = {};
    for (const [id, peer] of this.peers) {
      out[id] = {
        address: peer.address,
        connected: peer.msg.isOpen,
        lastError: this.lastErrors.get(id) ?? null,
      };
    }
    return out;
  }

  /** The address the server is bound to (the real port when listening on port 0). Throws before `listen`/`start`. */
  address(): {
    /** The bound address. */
    host: string;
    /** The bound port (the real one for `:0`). */
    port: number;
  } {
    const a = this.server.address();
    if (a === null) throw new WsTransportError('Stopped', 'transport is not listening');
    return { host: a.address, port: a.port };
  }

  /** A snapshot of resources held and counters. */
  stats(): WsTransportStats {
    let outbound = 0;
    let pendingOut = 0;
    let queuedMessages = 0;
    let queuedBytes = 0;
    let bufferedBytes = 0;
    for (const peer of this.peers.values()) {
      for (const lane of peer.snap === null ? [peer.msg] : [peer.msg, peer.snap]) {
        if (lane.isOpen) outbound++;
        if (lane.isPending) pendingOut++;
        queuedMessages += lane.queuedMessages;
        queuedBytes += lane.queuedBytes;
        bufferedBytes += lane.bufferedBytes;
      }
    }
    return {
      ...this.counters,
      outboundConnections: outbound,
      inboundConnections: this.server.authenticatedCount,
      pendingConnections: pendingOut + this.server.pendingCount,
      timers: this.timers.size,
      queuedMessages,
      queuedBytes,
      bufferedBytes,
    };
  }

  private onPeerError(e: WsPeerError): void {
    // Only configured peers: a stranger could otherwise fill the map with made-up ids.
    if (e.peer !== null && this.peers.has(e.peer)) this.lastErrors.set(e.peer, e);
    for (const listener of this.peerErrorListeners) {
      try {
        listener(e);
      } catch (err) {
        this.options.logger.error(`peerError listener threw: ${(err as Error)?.message}`);
      }
    }
  }

  private deliver(m: Message): boolean {
    const handler = this.handler;
    if (handler === null) return false;
    try {
      handler(m);
    } catch (e) {
      this.options.logger.error(
        `message handler threw on ${m.type} from ${m.from}: ${(e as Error)?.message}`,
      );
    }
    return true;
  }

  private ping(): void {
    for (const peer of this.peers.values()) {
      peer.msg.ping();
      peer.snap?.ping();
    }
    this.server.ping();
  }
}
