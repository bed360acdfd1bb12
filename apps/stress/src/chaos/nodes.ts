/**
 * `Nodes` runs kvapi as real child processes on 127.0.0.1, one temp data dir each, every peer
 * link through the {@link Network}'s proxies: node `a`'s `--cluster` names, for every other
 * member `b`, the proxy `a>b` as `b`'s peer address (`--pin-peers` keeps it so even after `b`
 * is removed and re-added with its real address in the log). It can kill -9, restart, pause
 * (SIGSTOP) and resume (SIGCONT) nodes, wipe one and start it empty with `--join`, and it
 * always kills what it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Network } from './network.js';

const STRESS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const KVAPI_DIR = resolve(STRESS_DIR, '../kvapi');

export type KvapiFrom = 'auto' | 'dist' | 'source';

/**
 * How to start kvapi: the built app (`dist`), its TypeScript source through tsx (`source`, what
 * tests use, so they never run a stale build), or `auto` = dist when it exists.
 */
export function kvapiEntry(from: KvapiFrom): { args: string[]; built: boolean } {
  const dist = join(KVAPI_DIR, 'dist/main.js');
  if (from === 'dist' && !existsSync(dist)) {
    throw new Error(`${dist} does not exist; run pnpm build first`);
  }
  if (from !== 'source' && existsSync(dist)) return { args: [dist], built: true };
  return {
    args: ['--conditions=@tsraft/source', '--import', 'tsx', join(KVAPI_DIR, 'src/main.ts')],
    built: false,
  };
}

/**
 * A free TCP port on 127.0.0.1, picked at random below the kernel's ephemeral range (Linux:
 * 32768–60999). A port from `listen(0)` lies in that range, where any other process's `listen(0)`
 * or outgoing connection may take it between this check and the node's own bind (seen in CI as
 * EADDRINUSE); below it, only another picker like this one can collide.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface NodeStatus {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
  members: { id: string; role: string }[];
  keys: number;
}

interface Running {
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  paused: boolean;
}

export interface NodesOptions {
  readonly dir: string;
  readonly tickMs: number;
  readonly requestTimeoutMs: number;
  readonly snapshotEntries: number;
  readonly extraArgs: readonly string[];
  readonly kvapi: KvapiFrom;
}

export class Nodes {
  readonly http = new Map<string, number>();
  readonly peer = new Map<string, number>();
  private readonly running = new Map<string, Running>();
  private readonly joining = new Set<string>();
  /** The cluster secret (peer handshakes; kvapi also wants it as a bearer token on /admin). */
  readonly secret = randomBytes(18).toString('base64url');
  private net: Network | undefined;
  private readonly entry: { args: string[]; built: boolean };

  constructor(
    readonly ids: readonly string[],
    private readonly o: NodesOptions,
  ) {
    this.entry = kvapiEntry(o.kvapi);
  }

  /** Picks ports for every node (before the proxies, which need the peer ports). */
  async allocate(): Promise<void> {
    for (const id of this.ids) {
      this.http.set(id, await freePort());
      this.peer.set(id, await freePort());
    }
  }

  get builtApp(): boolean {
    return this.entry.built;
  }

  url(id: string): string {
    return `http://127.0.0.1:${this.http.get(id)}`;
  }

  httpAddress(id: string): string {
    return `127.0.0.1:${this.http.get(id)}`;
  }

  peerAddress(id: string): string {
    return `127.0.0.1:${this.peer.get(id)}`;
  }

  logFile(id: string): string {
    return join(this.o.dir, `${id}.log`);
  }

  logTail(id: string, chars = 3000): string {
    try {
      return readFileSync(this.logFile(id), 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }

  /** Node `self`'s view of the cluster: every other member's peer address is a proxy. */
  private clusterArg(self: string, net: Network): string {
    return this.ids
      .map((id) => {
        const peer = id === self ? this.peerAddress(id) : `127.0.0.1:${net.port(self, id)}`;
        return `${id},${this.httpAddress(id)},${peer}`;
      })
      .join(';');
  }

  isUp(id: string): boolean {
    return this.running.has(id);
  }

  isPaused(id: string): boolean {
    return this.running.get(id)?.paused === true;
  }

  upIds(): string[] {
    return this.ids.filter((id) => this.running.has(id));
  }

  start(id: string, net: Network, join = false): void {
    this.net = net;
    if (this.running.has(id)) throw new Error(`node ${id} is already running`);
    if (join) this.joining.add(id);
    const args = [
      ...this.entry.args,
      '--node',
      id,
      '--http',
      this.httpAddress(id),
      '--cluster',
      this.clusterArg(id, net),
      '--pin-peers',
      '--data',
      this.dataDir(id),
      '--tick-ms',
      String(this.o.tickMs),
      '--request-timeout-ms',
      String(this.o.requestTimeoutMs),
      '--snapshot-entries',
      String(this.o.snapshotEntries),
      '--log-level',
      'warn',
      ...(this.joining.has(id) ? ['--join'] : []),
      ...this.o.extraArgs,
    ];
    const fd = openSync(this.logFile(id), 'a');
    // Own process group, so a terminal's Ctrl-C reaches only stress, which then kills each
    // node itself; the secret goes through the environment, not argv.
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', fd, fd],
      detached: true,
      env: { ...process.env, KVAPI_SECRET: this.secret },
    });
    closeSync(fd);
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const run: Running = { proc, exited, paused: false };
    this.running.set(id, run);
    void exited.then(() => {
      if (this.running.get(id) === run) this.running.delete(id);
    });
  }

  dataDir(id: string): string {
    return join(this.o.dir, `node-${id}`);
  }

  /** kill -9 (also works on a paused node). */
  async kill(id: string): Promise<void> {
    const r = this.running.get(id);
    if (r === undefined) return;
    r.proc.kill('SIGKILL');
    await r.exited;
    this.running.delete(id);
  }

  /** Starts a killed node again on the same data dir (as a joiner if it was re-added). */
  restart(id: string): void {
    if (this.net === undefined) throw new Error('restart before start');
    this.start(id, this.net);
  }

  pause(id: string): void {
    const r = this.running.get(id);
    if (r === undefined || r.paused) return;
    r.proc.kill('SIGSTOP');
    r.paused = true;
  }

  resume(id: string): void {
    const r = this.running.get(id);
    if (r === undefined || !r.paused) return;
    r.proc.kill('SIGCONT');
    r.paused = false;
  }

  /** Deletes a stopped node's data so it can come back empty with `--join`. */
  async wipeAndJoin(id: string): Promise<void> {
    await this.kill(id);
    rmSync(this.dataDir(id), { recursive: true, force: true });
    if (this.net === undefined) throw new Error('join before start');
    this.joining.delete(id);
    this.start(id, this.net, true);
  }

  async status(id: string, timeoutMs = 1500): Promise<NodeStatus | null> {
    if (!this.running.has(id)) return null;
    try {
      const res = await fetch(`${this.url(id)}/status`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (res.status !== 200) return null;
      return (await res.json()) as NodeStatus;
    } catch {
      return null;
    }
  }

  async waitHttp(id: string, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (!this.running.has(id)) throw new Error(`node ${id} exited:\n${this.logTail(id)}`);
      if ((await this.status(id)) !== null) return;
      await sleep(100);
    }
    throw new Error(`node ${id} never served HTTP:\n${this.logTail(id)}`);
  }

  /** The leader every live, unpaused node agrees on, or null. */
  async leader(): Promise<string | null> {
    const ids = this.upIds().filter((id) => !this.isPaused(id));
    const sts = await Promise.all(ids.map((id) => this.status(id)));
    const leaders = sts.filter((s) => s?.role === 'leader').map((s) => s?.id);
    return leaders.length === 1 ? (leaders[0] ?? null) : null;
  }

  /** Kills every process (resuming paused ones first is not needed: SIGKILL works). */
  async killAll(): Promise<void> {
    await Promise.all(this.upIds().map((id) => this.kill(id)));
  }

  /** Synchronous last resort for process exit paths. */
  killAllSync(): void {
    for (const r of this.running.values()) {
      try {
        r.proc.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
