/**
 * Command-line parsing for kvapi: goraft's `--node --http --cluster [--data]`, plus tsraft's
 * own flags. Every problem becomes one `UsageError` line; nothing here touches the network.
 */
import { parseArgs } from 'node:util';

/** One member of `--cluster`: its HTTP address (goraft's) and its raft peer address. */
export interface ClusterMember {
  readonly id: string;
  /** `host:port` as given (`:PORT` = all interfaces when listening). */
  readonly http: string;
  /** `host:port` of the raft (WebSocket) listener. */
  readonly peer: string;
}

export interface KvapiConfig {
  readonly node: string;
  readonly http: string;
  readonly cluster: readonly ClusterMember[];
  readonly data: string;
  readonly secret: string | undefined;
  /** With a secret: which HTTP routes need `Authorization: Bearer <secret>` (see auth.ts). */
  readonly httpAuth: 'admin' | 'all';
  readonly clusterId: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly snapshotEntries: number;
  readonly join: boolean;
  readonly tickMs: number;
  readonly requestTimeoutMs: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly bodyLimit: number;
  readonly headersTimeoutMs: number;
  readonly sync: 'full' | 'normal';
  /** `--cluster` addresses win over those learned from the log (e.g. proxies in front of peers). */
  readonly pinPeers: boolean;
  /** PEM files for mutual TLS (`wss`) on the peer links; absent = plain `ws` (see peer-tls.ts). */
  readonly peerTls?: PeerTlsFiles;
}

/** The three `--peer-tls-*` files. */
export interface PeerTlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** A bad command line; `message` is the one line printed before exiting with status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The raft peer port of a node whose `--cluster` entry names only its HTTP port. */
export const PEER_PORT_OFFSET = 1000;

export const USAGE = `Usage: kvapi --node ID --http [HOST]:PORT --cluster "ID,[HOST]:PORT[,PEER];..." [options]

A replicated key-value store over HTTP (Raft via tsraft). goraft-compatible flags:
  --node ID               this node's id (a short string; goraft's numbers such as 0 work)
  --http [HOST]:PORT      HTTP listen address; ":PORT" listens on all interfaces
  --cluster LIST          every founding member as "ID,[HOST]:PORT" separated by ";". The address
                          is the member's HTTP address. Its raft peer port is HTTP port + ${PEER_PORT_OFFSET}
                          unless the entry is a triple "ID,HTTP,PEER" (PEER = [HOST]:PORT).
                          Must include --node.
  --data DIR              data directory (default ./data/node-ID); restart with the same DIR
                          to recover. The raft log lives in DIR/raft.db (SQLite).
Options:
  --secret S              shared cluster secret for the peer links' HMAC handshake (or env
                          KVAPI_SECRET). Without it peer links are unauthenticated (a warning).
                          With it, HTTP admin routes need "Authorization: Bearer S".
  --http-auth admin|all   with --secret: admin = only /admin/* need the token (default);
                          all = every route but the /ui page itself (reads too)
  --cluster-id ID         cluster identity checked by storage and peer handshakes (default kvapi)
  --peer-tls-cert FILE    with --peer-tls-key and --peer-tls-ca: mutual TLS (wss) on the peer
  --peer-tls-key FILE     links. CERT (PEM) serves and dials (extendedKeyUsage serverAuth and
  --peer-tls-ca FILE      clientAuth, a SAN for the peer address); CA (PEM) signs every member's
                          certificate. Peers that fail verification are refused.
  --join                  start empty and wait to be added (POST /admin/learner on the cluster)
  --tick-ms N             raft tick in ms (default 100: heartbeats 100 ms, elections 1-2 s)
  --snapshot-entries N    snapshot after N applied entries (default 10000; 0 = never)
  --request-timeout-ms N  a write or read without an answer after N ms gets 504 (default 5000)
  --max-key-bytes N       largest key in UTF-8 bytes (default 1024)
  --max-value-bytes N     largest value in UTF-8 bytes (default 1048576)
  --body-limit N          largest HTTP request body in bytes (default max-value-bytes + 64 KiB)
  --headers-timeout-ms N  a client must send its request headers within N ms (slow-loris
                          guard; default 10000)
  --sync full|normal      SQLite synchronous mode (default full; normal = no fsync, tests only)
  --pin-peers             dial the members named in --cluster at the addresses given there, even
                          if the log later records others for them (e.g. a fault-injecting proxy
                          per peer link, as the stress chaos mode runs)
  --log-level LEVEL       fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help              show this help`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Parses `host:port` / `:port` / `[v6]:port`; throws UsageError. */
export function parseHostPort(s: string, what: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]*):(\d{1,5})$/.exec(s);
  const port = m === null ? Number.NaN : Number(m[2]);
  if (m === null || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`${what}: expected [HOST]:PORT, got ${JSON.stringify(s)}`);
  }
  return { host: m[1] as string, port };
}

function hostPort(host: string, port: number): string {
  return `${host}:${port}`;
}

/** Parses goraft's `--cluster` list; throws UsageError. */
export function parseCluster(s: string): ClusterMember[] {
  const out: ClusterMember[] = [];
  const seen = new Set<string>();
  for (const raw of s.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    const fields = part.split(',').map((f) => f.trim());
    if (fields.length !== 2 && fields.length !== 3) {
      throw new UsageError(
        `--cluster: expected "ID,[HOST]:PORT[,PEER]", got ${JSON.stringify(part)}`,
      );
    }
    const [id, http, peer] = fields as [string, string, string | undefined];
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
      throw new UsageError(
        `--cluster: bad node id ${JSON.stringify(id)} (1-64 of A-Z a-z 0-9 _ . -)`,
      );
    }
    if (seen.has(id)) throw new UsageError(`--cluster: node id ${id} appears twice`);
    seen.add(id);
    const h = parseHostPort(http, `--cluster (${id})`);
    let peerAddr: string;
    if (peer !== undefined) {
      parseHostPort(peer, `--cluster (${id} peer)`);
      peerAddr = peer;
    } else {
      const p = h.port + PEER_PORT_OFFSET;
      if (h.port === 0 || p > 65535) {
        throw new UsageError(
          `--cluster (${id}): HTTP port ${h.port} gives no peer port; give "ID,HTTP,PEER"`,
        );
      }
      peerAddr = hostPort(h.host, p);
    }
    out.push({ id, http, peer: peerAddr });
  }
  if (out.length === 0) throw new UsageError('--cluster: no members');
  return out;
}

function int(v: string | undefined, flag: string, def: number, min: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** Parses argv (without node and script); returns `'help'` for --help. Throws UsageError. */
export function parseCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): KvapiConfig | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        node: { type: 'string' },
        http: { type: 'string' },
        cluster: { type: 'string' },
        data: { type: 'string' },
        secret: { type: 'string' },
        'http-auth': { type: 'string' },
        'peer-tls-cert': { type: 'string' },
        'peer-tls-key': { type: 'string' },
        'peer-tls-ca': { type: 'string' },
        'cluster-id': { type: 'string' },
        'log-level': { type: 'string' },
        'snapshot-entries': { type: 'string' },
        join: { type: 'boolean' },
        'tick-ms': { type: 'string' },
        'request-timeout-ms': { type: 'string' },
        'max-key-bytes': { type: 'string' },
        'max-value-bytes': { type: 'string' },
        'body-limit': { type: 'string' },
        'headers-timeout-ms': { type: 'string' },
        sync: { type: 'string' },
        'pin-peers': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (values.help === true) return 'help';
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const node = str('node');
  const http = str('http');
  const clusterArg = str('cluster');
  if (node === undefined) throw new UsageError('--node is required (see --help)');
  if (http === undefined) throw new UsageError('--http is required (see --help)');
  if (clusterArg === undefined) throw new UsageError('--cluster is required (see --help)');
  parseHostPort(http, '--http');
  const cluster = parseCluster(clusterArg);
  if (!cluster.some((m) => m.id === node)) {
    throw new UsageError(
      `--node ${node} is not in --cluster (members: ${cluster.map((m) => m.id).join(', ')})`,
    );
  }
  const level = str('log-level') ?? 'info';
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level: expected one of ${LEVELS.join('|')}, got ${level}`);
  }
  const sync = str('sync') ?? 'full';
  if (sync !== 'full' && sync !== 'normal') {
    throw new UsageError(`--sync: expected full or normal, got ${sync}`);
  }
  const clusterId = str('cluster-id') ?? 'kvapi';
  if (clusterId === '' || Buffer.byteLength(clusterId) > 255) {
    throw new UsageError('--cluster-id: 1-255 bytes');
  }
  const secret = str('secret') ?? env.KVAPI_SECRET;
  const httpAuth = str('http-auth') ?? 'admin';
  if (httpAuth !== 'admin' && httpAuth !== 'all') {
    throw new UsageError(`--http-auth: expected admin or all, got ${httpAuth}`);
  }
  const maxValueBytes = int(str('max-value-bytes'), '--max-value-bytes', 1024 * 1024, 1);
  const tls = [str('peer-tls-cert'), str('peer-tls-key'), str('peer-tls-ca')] as const;
  const tlsGiven = tls.filter((f) => f !== undefined).length;
  if (tlsGiven !== 0 && tlsGiven !== 3) {
    throw new UsageError('--peer-tls-cert, --peer-tls-key and --peer-tls-ca go together');
  }
  const [cert, key, ca] = tls;
  return {
    node,
    http,
    cluster,
    data: str('data') ?? `./data/node-${node}`,
    secret: secret === '' ? undefined : secret,
    httpAuth,
    clusterId,
    logLevel: level as KvapiConfig['logLevel'],
    snapshotEntries: int(str('snapshot-entries'), '--snapshot-entries', 10_000, 0),
    join: values.join === true,
    tickMs: int(str('tick-ms'), '--tick-ms', 100, 1),
    requestTimeoutMs: int(str('request-timeout-ms'), '--request-timeout-ms', 5000, 1),
    maxKeyBytes: int(str('max-key-bytes'), '--max-key-bytes', 1024, 1),
    maxValueBytes,
    bodyLimit: int(str('body-limit'), '--body-limit', maxValueBytes + 64 * 1024, 1),
    headersTimeoutMs: int(str('headers-timeout-ms'), '--headers-timeout-ms', 10_000, 100),
    sync,
    pinPeers: values['pin-peers'] === true,
    ...(cert !== undefined &&
      key !== undefined &&
      ca !== undefined && { peerTls: { cert, key, ca } }),
  };
}
