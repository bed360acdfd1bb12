/**
 * `Replica` is one kvapi node's raft side: SQLite log storage under `--data`, the WebSocket
 * peer transport, the RaftNode and raft-kv's state machine and store, with the member
 * directory keeping the transport's peers in step with the configuration in the log.
 */
import { join } from 'node:path';
import type { FastifyBaseLogger as PinoLogger } from 'fastify';
import { type Logger, RaftNode } from 'raft-core';
import { type KvResult, KvStateMachine, KvStore } from 'raft-kv';
import { SqliteLogStorage } from 'raft-storage-sqlite';
import { WsTransport } from 'raft-transport-ws';
import type { KvapiConfig } from './cli.js';
import { Directory } from './members.js';
import { loadPeerTls } from './peer-tls.js';
import type { StatusPeer } from './schema.js';

/** Adapts pino to raft-core's `Logger`. */
export function raftLogger(log: PinoLogger): Logger {
  return {
    debug: (msg, fields) => log.debug(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}

export class Replica {
  private unsubscribe: () => void = () => {};
  onSnapshot: () => void = () => {};

  private constructor(
    readonly config: KvapiConfig,
    readonly node: RaftNode<KvResult>,
    readonly sm: KvStateMachine,
    readonly store: KvStore,
    readonly transport: WsTransport,
    readonly directory: Directory,
  ) {}

  static async start(config: KvapiConfig, log: PinoLogger): Promise<Replica> {
    const self = config.cluster.find((m) => m.id === config.node);
    if (self === undefined) throw new Error(`--node ${config.node} is not in --cluster`);
    const logger = raftLogger(log);
    const storage = await SqliteLogStorage.open({
      path: join(config.data, 'raft.db'),
      clusterId: config.clusterId,
      nodeId: config.node,
      synchronous: config.sync,
    });
    let transport: WsTransport;
    try {
      transport = new WsTransport({
        nodeId: config.node,
        clusterId: config.clusterId,
        listen: self.peer,
        ...(config.secret !== undefined && { secret: config.secret }),
        ...(config.peerTls !== undefined && { tls: loadPeerTls(config.peerTls) }),
        logger,
      });
    } catch (e) {
      await storage.close();
      throw e;
    }
    const directory = new Directory(config.node, config.cluster, transport, config.pinPeers);
    const sm = new KvStateMachine({});
    let node: RaftNode<KvResult>;
    try {
      node = await RaftNode.start<KvResult>({
        id: config.node,
        storage,
        transport,
        stateMachine: sm,
        ...(!config.join && { bootstrap: config.cluster.map((m) => m.id) }),
        tickMs: config.tickMs,
        snapshotEntries: config.snapshotEntries,
        logger,
      });
    } catch (e) {
      await transport.stop().catch(() => {});
      await storage.close().catch(() => {});
      throw e;
    }
    const store = new KvStore(node, sm, {
      maxKeyBytes: config.maxKeyBytes,
      maxValueBytes: config.maxValueBytes,
    });
    const r = new Replica(config, node, sm, store, transport, directory);
    r.role = node.status().role;
    node.on('roleChange', ({ role }) => {
      r.role = role;
    });
    node.on('snapshot', () => r.onSnapshot());
    directory.setLearned(sm.members());
    r.unsubscribe = sm.onMembersChange(() => directory.setLearned(sm.members()));
    return r;
  }

  /** Kept from roleChange events: `status()` builds a fresh object, too slow per request. */
  private role: string = 'follower';

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  /** The leader as 503 answers name it. */
  leaderInfo(): { leader: string | null; leaderId: string | null } {
    const id = this.node.leader;
    return { leader: this.directory.httpOf(id), leaderId: id };
  }

  /** Leader only: replication progress of every other member (empty elsewhere). */
  peers(): StatusPeer[] {
    return this.node.progress().map((p) => ({
      id: p.id,
      match: p.match,
      next: p.next,
      state: p.state,
      active: p.reachable,
      learner: p.learner,
      inflight: p.inflight,
      inflightBytes: p.inflightBytes,
      pendingSnapshot: p.pendingSnapshot,
    }));
  }

  /** Hands leadership to the most up-to-date voter, if leader; never throws. */
  async handOver(timeoutMs: number, log: PinoLogger): Promise<void> {
    const best = this.peers()
      .filter((p) => !p.learner)
      .sort((a, b) => b.match - a.match)[0];
    if (best === undefined) return;
    try {
      await Promise.race([
        this.node.transferLeadership(best.id),
        new Promise((r) => setTimeout(r, timeoutMs).unref()),
      ]);
    } catch (e) {
      log.warn({ err: String(e) }, `could not hand leadership to ${best.id}`);
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    await this.node.stop({ transferLeadership: false });
  }
}
