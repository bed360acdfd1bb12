import type { LogFields, Logger, Message, NodeId } from 'raft-core';
import { WsTransport, type WsTransportOptions } from '../../src/index.js';

/** Poll `cond` until true or fail after `ms` (generous: never a speed assertion). */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly fields: LogFields | undefined;
  /** `Date.now()` when logged. */
  readonly at: number;
}

/** A logger that records lines (and prints them when TSRAFT_LOG=1). */
export function recordingLogger(
  name = '',
): Logger & { lines: LogLine[]; has(level: LogLine['level'], re: RegExp): boolean } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (msg: string, fields?: LogFields): void => {
      lines.push({ level, msg, fields, at: Date.now() });
      if (process.env.TSRAFT_LOG === '1') console.log(`[${name}] ${level} ${msg}`, fields ?? '');
    };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    has: (level, re) => lines.some((l) => l.level === level && re.test(l.msg)),
  };
}

export function heartbeat(from: NodeId, to: NodeId, context: number): Message {
  return { type: 'MsgHeartbeat', from, to, term: 1, commit: 0, context };
}

/** Every transport made through {@link Cluster}, stopped (and checked for leaks) by `stopAll`. */
export class Cluster {
  readonly made: WsTransport[] = [];
  readonly inboxes = new Map<WsTransport, Message[]>();

  make(options: Partial<WsTransportOptions> & { nodeId: NodeId }): WsTransport {
    const t = new WsTransport({
      clusterId: 'test',
      listen: '127.0.0.1:0',
      secret: 'test secret',
      backoffInitialMs: 10,
      backoffMaxMs: 200,
      ...options,
    });
    this.made.push(t);
    return t;
  }

  /** Start `t` collecting messages; returns its inbox. */
  async start(t: WsTransport): Promise<Message[]> {
    const inbox: Message[] = [];
    this.inboxes.set(t, inbox);
    await t.start((m) => inbox.push(m));
    return inbox;
  }

  /** Make, listen and cross-register peers for `ids`, without starting them. */
  async wired(
    ids: NodeId[],
    options: Partial<WsTransportOptions> = {},
  ): Promise<Map<NodeId, WsTransport>> {
    const out = new Map<NodeId, WsTransport>();
    for (const id of ids) {
      const t = this.make({ ...options, nodeId: id });
      await t.listen();
      out.set(id, t);
    }
    for (const [id, t] of out) {
      for (const [other, o] of out)
        if (other !== id) t.addPeer(other, `127.0.0.1:${o.address().port}`);
    }
    return out;
  }

  /** Make, listen and cross-register peers for `ids`; returns them started. */
  async mesh(
    ids: NodeId[],
    options: Partial<WsTransportOptions> = {},
    perNode: (id: NodeId) => Partial<WsTransportOptions> = () => ({}),
  ): Promise<Map<NodeId, { t: WsTransport; inbox: Message[] }>> {
    const out = new Map<NodeId, { t: WsTransport; inbox: Message[] }>();
    for (const id of ids) {
      const t = this.make({ ...options, ...perNode(id), nodeId: id });
      await t.listen();
      out.set(id, { t, inbox: [] });
    }
    for (const [id, { t }] of out) {
      for (const [other, o] of out)
        if (other !== id) t.addPeer(other, `127.0.0.1:${o.t.address().port}`);
    }
    for (const node of out.values()) node.inbox = await this.start(node.t);
    return out;
  }

  /** Stop everything and check nothing is left: no timers, connections or queued messages. */
  async stopAll(): Promise<void> {
    await Promise.all(this.made.map((t) => t.stop()));
    for (const t of this.made) {
      const s = t.stats();
      const left = {
        timers: s.timers,
        inbound: s.inboundConnections,
        outbound: s.outboundConnections,
        pending: s.pendingConnections,
        queued: s.queuedMessages,
      };
      if (Object.values(left).some((n) => n !== 0))
        throw new Error(`transport leaked after stop(): ${JSON.stringify(left)}`);
    }
    this.made.length = 0;
  }
}

/** Counts of the process's active TCP handles (sockets and servers). */
export function tcpHandles(): { sockets: number; servers: number } {
  const info = process.getActiveResourcesInfo();
  return {
    sockets: info.filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length,
    servers: info.filter((r) => r === 'TCPServerWrap').length,
  };
}
