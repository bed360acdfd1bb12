/**
 * Prometheus metrics of one kvapi node (prom-client, a private registry). Raft gauges are read
 * from `RaftNode.status()` when scraped; counters and histograms are fed by the server.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RaftNode } from 'raft-core';
import type { WsTransport } from 'raft-transport-ws';
import type { StatusCounters } from './schema.js';

const ROLES = ['follower', 'preCandidate', 'candidate', 'leader'] as const;

export interface PeerView {
  readonly id: string;
  readonly active: boolean;
  readonly match: number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly proposals: Counter<'op' | 'result'>;
  readonly commitLatency: Histogram<'op'>;
  readonly elections: Counter;
  readonly leaderChanges: Counter;
  readonly snapshots: Counter;
  readonly forwarded: Counter<'result'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Plain totals beside the prom-client ones, readable synchronously for `/status`. */
  private writesOk = 0;
  private writesFailed = 0;
  private commitLatencyMsSum = 0;
  private readonly started = performance.now();

  constructor(node: RaftNode<unknown>, transport: WsTransport, peers: () => PeerView[]) {
    const registers = [this.registry];
    new Gauge({
      name: 'kvapi_raft_role',
      help: 'Current raft role (1 for the role this node has)',
      labelNames: ['role'],
      registers,
      collect() {
        const role = node.status().role;
        for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0);
      },
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    gauge('kvapi_raft_term', 'Current raft term', () => node.status().term);
    gauge('kvapi_raft_commit_index', 'Raft commit index', () => node.status().commitIndex);
    gauge('kvapi_raft_applied_index', 'Raft applied index', () => node.status().appliedIndex);
    gauge('kvapi_raft_last_index', 'Last index of the raft log', () => node.status().lastIndex);
    gauge('kvapi_raft_is_leader', '1 if this node is the leader', () =>
      node.status().role === 'leader' ? 1 : 0,
    );
    gauge(
      'kvapi_peer_connections_outbound',
      'Authenticated outbound peer connections',
      () => transport.stats().outboundConnections,
    );
    gauge(
      'kvapi_peer_connections_inbound',
      'Authenticated inbound peer connections',
      () => transport.stats().inboundConnections,
    );
    new Gauge({
      name: 'kvapi_raft_peer_active',
      help: 'Leader only: 1 if the peer answered within the last election timeout',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const p of peers()) this.set({ peer: p.id }, p.active ? 1 : 0);
      },
    });
    new Gauge({
      name: 'kvapi_raft_peer_match_index',
      help: 'Leader only: highest log index known to be replicated on the peer',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const p of peers()) this.set({ peer: p.id }, p.match);
      },
    });
    this.proposals = new Counter({
      name: 'kvapi_proposals_total',
      help: 'Writes proposed by this node, by outcome (ok, not_applied, unknown)',
      labelNames: ['op', 'result'],
      registers,
    });
    this.commitLatency = new Histogram({
      name: 'kvapi_commit_latency_seconds',
      help: 'Time from proposing a write on this node to its result being applied here',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.elections = new Counter({
      name: 'kvapi_raft_elections_total',
      help: 'Times this node became a candidate',
      registers,
    });
    this.leaderChanges = new Counter({
      name: 'kvapi_raft_leader_changes_total',
      help: 'Leader changes seen by this node',
      registers,
    });
    this.snapshots = new Counter({
      name: 'kvapi_raft_snapshots_total',
      help: 'Snapshots taken by this node',
      registers,
    });
    this.forwarded = new Counter({
      name: 'kvapi_forwarded_total',
      help: 'Writes this follower relayed to the leader, by result',
      labelNames: ['result'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'kvapi_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    node.on('roleChange', ({ role }) => {
      if (role === 'candidate') this.elections.inc();
    });
    node.on('leaderChange', () => this.leaderChanges.inc());
  }

  /** Records a write this node proposed: applied (with its commit latency) or failed. */
  proposal(op: string, result: string, latencyMs?: number): void {
    this.proposals.inc({ op, result });
    if (result === 'ok') {
      this.writesOk++;
      if (latencyMs !== undefined) {
        this.commitLatency.observe({ op }, latencyMs / 1000);
        this.commitLatencyMsSum += latencyMs;
      }
    } else {
      this.writesFailed++;
    }
  }

  counters(): StatusCounters {
    return {
      writesOk: this.writesOk,
      writesFailed: this.writesFailed,
      commitLatencyMsSum: this.commitLatencyMsSum,
      uptimeMs: performance.now() - this.started,
    };
  }
}
