import { type Logger, type NodeId, noopLogger, rateLimitedLogger } from 'raft-core';
import { type HostPort, parseAddress } from './address.js';
import { WsTransportError } from './errors.js';

/** TLS (`wss`) settings, used both to serve and to dial. Peers verify each other's certificates. */
export interface WsTlsOptions {
  /** This node's certificate chain (PEM). Used as server and as client certificate. */
  readonly cert: string | Uint8Array;
  /** This node's private key (PEM). */
  readonly key: string | Uint8Array;
  /** CA certificate(s) (PEM) that sign every peer's certificate. */
  readonly ca: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** Verify peers' certificates (both directions). Default true; false only for experiments. */
  readonly rejectUnauthorized?: boolean;
}

/** `WsTransportOptions` configures a {@link WsTransport}. Only the first three are required. */
export interface WsTransportOptions {
  /** This node's id (at most 255 UTF-8 bytes). */
  readonly nodeId: NodeId;
  /** Cluster id; connections from another cluster are refused (at most 255 UTF-8 bytes). */
  readonly clusterId: string;
  /** Where to accept peers: `host:port`, `:port` (all interfaces) or `[ipv6]:port`; port 0 picks one. */
  readonly listen: string;
  /**
   * Peers by node id → address (`host:port`, `[ipv6]:port`; `:port` dials 127.0.0.1). Only
   * peers listed here (or added with `addPeer`) may connect. An entry for `nodeId` is ignored.
   */
  readonly peers?: Readonly<Record<NodeId, string>> | ReadonlyMap<NodeId, string>;
  /** Shared cluster secret for the HMAC handshake. Without it the transport is unauthenticated. */
  readonly secret?: string | Uint8Array;
  /** Serve and dial over TLS (`wss`) with mutual certificate verification. */
  readonly tls?: WsTlsOptions;
  /** Structured logger (default: discard). */
  readonly logger?: Logger;
  /** Largest frame sent or accepted, in bytes; larger messages are dropped. Default 8 MiB. */
  readonly maxFrameBytes?: number;
  /** Target frame size when batching queued messages. Default 1 MiB. */
  readonly maxBatchBytes?: number;
  /** Per-peer, per-lane queue bound in bytes; messages beyond it are dropped. Default 16 MiB. */
  readonly maxQueueBytes?: number;
  /** Per-peer, per-lane queue bound in messages. Default 65,536. */
  readonly maxQueueMessages?: number;
  /** Stop writing to a socket while `ws.bufferedAmount` exceeds this. Default 4 MiB. */
  readonly highWaterMarkBytes?: number;
  /** A connection must finish the HTTP upgrade and the auth handshake within this. Default 5 s. */
  readonly handshakeTimeoutMs?: number;
  /** Ping every connection this often; one without a pong by the next ping is closed. 0 = off. Default 5 s. */
  readonly pingIntervalMs?: number;
  /** First reconnect delay; doubles per failed attempt, with jitter. Default 50 ms. */
  readonly backoffInitialMs?: number;
  /** Largest reconnect delay. Default 5 s. */
  readonly backoffMaxMs?: number;
  /** Inbound connections allowed to be in their handshake at once. Default 8. */
  readonly maxPendingHandshakes?: number;
  /** Random source for backoff jitter (default `Math.random`). */
  readonly random?: () => number;
}

/** Options with defaults applied and values checked. */
export interface ResolvedOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly listen: HostPort;
  readonly secret: Uint8Array | null;
  readonly tls: WsTlsOptions | null;
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  readonly maxBatchBytes: number;
  readonly maxQueueBytes: number;
  readonly maxQueueMessages: number;
  readonly highWaterMarkBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly maxPendingHandshakes: number;
  readonly random: () => number;
}

function invalid(message: string): WsTransportError {
  return new WsTransportError('InvalidOptions', message);
}

/** `checkId` validates a node or cluster id: a non-empty, well-formed string of ≤ 255 UTF-8 bytes. */
export function checkId(id: unknown, what: string): string {
  if (typeof id !== 'string' || id === '') throw invalid(`${what} must be a non-empty string`);
  if (/\p{Surrogate}/u.test(id)) throw invalid(`${what} is not a well-formed string`);
  if (Buffer.byteLength(id, 'utf8') > 255) throw invalid(`${what} is longer than 255 UTF-8 bytes`);
  return id;
}

function positive(
  value: number | undefined,
  fallback: number,
  what: string,
  allowZero = false,
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw invalid(`${what} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
  }
  return value;
}

export function resolveOptions(o: WsTransportOptions): ResolvedOptions {
  const secret =
    o.secret === undefined ? null : typeof o.secret === 'string' ? Buffer.from(o.secret) : o.secret;
  if (secret !== null && secret.length === 0) throw invalid('secret must not be empty');
  const maxFrameBytes = positive(o.maxFrameBytes, 8 * 1024 * 1024, 'maxFrameBytes');
  return {
    nodeId: checkId(o.nodeId, 'nodeId'),
    clusterId: checkId(o.clusterId, 'clusterId'),
    listen: parseAddress(o.listen),
    secret,
    tls: o.tls ?? null,
    // Refused peers are retried forever: the same warning at most once a minute.
    logger: rateLimitedLogger(o.logger ?? noopLogger),
    maxFrameBytes,
    maxBatchBytes: Math.min(positive(o.maxBatchBytes, 1024 * 1024, 'maxBatchBytes'), maxFrameBytes),
    maxQueueBytes: positive(o.maxQueueBytes, 16 * 1024 * 1024, 'maxQueueBytes'),
    maxQueueMessages: positive(o.maxQueueMessages, 65_536, 'maxQueueMessages'),
    highWaterMarkBytes: positive(o.highWaterMarkBytes, 4 * 1024 * 1024, 'highWaterMarkBytes'),
    handshakeTimeoutMs: positive(o.handshakeTimeoutMs, 5_000, 'handshakeTimeoutMs'),
    pingIntervalMs: positive(o.pingIntervalMs, 5_000, 'pingIntervalMs', true),
    backoffInitialMs: positive(o.backoffInitialMs, 50, 'backoffInitialMs'),
    backoffMaxMs: positive(o.backoffMaxMs, 5_000, 'backoffMaxMs'),
    maxPendingHandshakes: positive(o.maxPendingHandshakes, 8, 'maxPendingHandshakes'),
    random: o.random ?? Math.random,
  };
}

/** Counters of one transport (monotonic since construction). */
export interface WsTransportCounters {
  /** WebSocket frames written (each carries one or more messages). */
  framesSent: number;
  /** Raft messages written. */
  messagesSent: number;
  /** Frame bytes written. */
  bytesSent: number;
  /** Frames received and decoded. */
  framesReceived: number;
  /** Raft messages received and delivered. */
  messagesReceived: number;
  /** Frame bytes received. */
  bytesReceived: number;
  /** Messages dropped because a lane's queue was full. */
  droppedQueueFull: number;
  /** Messages dropped because their peer could not be reached (queue cleared on a failed connection). */
  droppedUnreachable: number;
  /** Messages sent to a node id that is not a peer. */
  droppedUnknownPeer: number;
  /** Messages larger than `maxFrameBytes`. */
  droppedTooLarge: number;
  /** Messages the codec cannot carry (see `encodeMessages`). */
  droppedInvalid: number;
  /** Messages whose `to`/`from` do not match the connection they travel on. */
  droppedMisaddressed: number;
  /** Messages sent after `stop()`, or received before `start()`. */
  droppedStopped: number;
  /** Inbound connections refused (bad handshake, wrong cluster/node/secret, timeout, overload). */
  handshakesRefused: number;
  /** Outbound connection attempts that failed (refused, unreachable, timed out). */
  connectFailures: number;
  /** Inbound frames that failed to decode (the connection is closed). */
  decodeErrors: number;
}

export function newCounters(): WsTransportCounters {
  return {
    framesSent: 0,
    messagesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    droppedQueueFull: 0,
    droppedUnreachable: 0,
    droppedUnknownPeer: 0,
    droppedTooLarge: 0,
    droppedInvalid: 0,
    droppedMisaddressed: 0,
    droppedStopped: 0,
    handshakesRefused: 0,
    connectFailures: 0,
    decodeErrors: 0,
  };
}

/**
 * `WsPeerError` describes a connection refused by the handshake, in either direction: a wrong
 * secret, another cluster, a node that is not a peer, another node at the dialed address, a
 * malformed or timed-out handshake. Delivered to `on('peerError')` listeners (whatever the
 * logger) and kept per peer in `peerStatus()`.
 */
export interface WsPeerError {
  /**
   * `outbound`: this node dialed `peer` and one side refused the handshake. `inbound`: this
   * node refused a connection from `peer` (the id the client claimed; null if it sent none).
   */
  readonly direction: 'outbound' | 'inbound';
  /** The peer's node id (for `inbound`, as the client claimed it; null if it sent none). */
  readonly peer: NodeId | null;
  /** The WebSocket close code: 4002 wrong cluster, 4003 not a peer, 4004 authentication failed, 4005 wrong node, 4006 handshake timeout, 4000/4001 malformed or other version. */
  readonly code: number;
  /** What went wrong, e.g. "authentication failed: wrong secret or replayed handshake". */
  readonly message: string;
  /** The remote address (inbound) or the URL dialed (outbound). */
  readonly remote: string;
  /** When, in ms since the epoch. */
  readonly at: number;
}

/** One peer in {@link WsTransport.peerStatus}. */
export interface WsPeerStatus {
  /** The `host:port` this node dials for the peer. */
  readonly address: string;
  /** An authenticated outbound connection (messages lane) is open now. */
  readonly connected: boolean;
  /** The latest refused handshake with this peer, either direction; null if none yet. */
  readonly lastError: WsPeerError | null;
}

/** `WsTransportStats` is a snapshot of a transport's resources and counters. */
export interface WsTransportStats extends Readonly<WsTransportCounters> {
  /** Authenticated outbound connections (at most two per peer: messages and snapshots). */
  readonly outboundConnections: number;
  /** Authenticated inbound connections. */
  readonly inboundConnections: number;
  /** Sockets (either direction) still in their upgrade or auth handshake. */
  readonly pendingConnections: number;
  /** Timers and immediates pending (0 after `stop()`). */
  readonly timers: number;
  /** Messages queued on all lanes, and their encoded size. */
  readonly queuedMessages: number;
  /** The encoded size of the queued messages. */
  readonly queuedBytes: number;
  /** Bytes written to outbound sockets but not yet to the kernel (bounded by `highWaterMarkBytes` + one frame). */
  readonly bufferedBytes: number;
}

/** Node `tls` options (shared by the server and the client side) from {@link WsTlsOptions}. */
export function tlsSecureOptions(tls: WsTlsOptions): {
  cert: string | Buffer;
  key: string | Buffer;
  ca: Array<string | Buffer>;
  rejectUnauthorized: boolean;
} {
  const pem = (v: string | Uint8Array): string | Buffer =>
    typeof v === 'string' ? v : Buffer.from(v);
  const cas: ReadonlyArray<string | Uint8Array> = Array.isArray(tls.ca)
    ? tls.ca
    : [tls.ca as string | Uint8Array];
  return {
    cert: pem(tls.cert),
    key: pem(tls.key),
    ca: cas.map(pem),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
  };
}
