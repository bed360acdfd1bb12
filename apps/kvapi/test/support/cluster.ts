/**
 * `ProcessCluster` runs kvapi nodes as real child processes on 127.0.0.1 (from source through
 * tsx, so no build is needed), with free ports found by binding port 0. It can kill -9,
 * SIGTERM and restart nodes, add nodes that `--join`, and always cleans up its processes and
 * temp dirs in `destroy()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Node's arguments that run kvapi from source. */
export function kvapiCommand(args: readonly string[]): string[] {
  return ['--conditions=@tsraft/source', '--import', 'tsx', 'src/main.ts', ...args];
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

/** The cluster secret every test node gets; admin routes need it as a bearer token. */
export const TEST_SECRET = 'test-secret';
export const ADMIN_AUTH: Readonly<Record<string, string>> = {
  authorization: `Bearer ${TEST_SECRET}`,
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface NodeSpec {
  readonly id: string;
  readonly httpPort: number;
  readonly peerPort: number;
}

/** A kvapi child process and its exit (the exit code). */
export interface Running {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
}

/** Starts kvapi (from source) with `args`, stdout and stderr appended to `logFile`. */
export function spawnKvapi(args: readonly string[], logFile: string): Running {
  const fd = openSync(logFile, 'a');
  const proc = spawn(process.execPath, kvapiCommand(args), {
    cwd: APP_DIR,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited };
}

/**
 * A node's `/status`, or null when it does not answer within 2 s. Sends the test token, so it
 * also works on nodes that run with `--http-auth all` (open routes ignore it).
 */
export async function fetchStatus(
  baseUrl: string,
  headers: Readonly<Record<string, string>> = ADMIN_AUTH,
): Promise<Record<string, unknown> | null> {
  try {
    const res = await fetch(`${baseUrl}/status`, { signal: AbortSignal.timeout(2000), headers });
    return (await res.json()) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Polls `status()` until the node has applied at least `index`. */
export async function waitForApplied(
  id: string,
  status: () => Promise<Record<string, unknown> | null>,
  index: number,
  timeoutMs: number,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const s = await status();
    if (s !== null && (s.appliedIndex as number) >= index) return;
    await sleep(100);
  }
  throw new Error(`node ${id} did not apply ${index} within ${timeoutMs} ms`);
}

export interface ClusterOptions {
  readonly ids?: readonly string[];
  readonly tickMs?: number;
  readonly extraArgs?: readonly string[];
}

export class ProcessCluster {
  readonly dir: string;
  readonly specs = new Map<string, NodeSpec>();
  private readonly running = new Map<string, Running>();
  private readonly founders: string[];
  private readonly tickMs: number;
  private readonly extraArgs: readonly string[];
  private readonly joinArgs = new Map<string, string[]>();

  private constructor(opts: ClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'kvapi-test-'));
    this.founders = [...(opts.ids ?? ['0', '1', '2'])];
    this.tickMs = opts.tickMs ?? 50;
    this.extraArgs = opts.extraArgs ?? [];
  }

  /**
   * Starts the founding members and waits for a leader. Every founder must still be running
   * then: a founder that died is reported with its log. The one exception is a port taken by
   * another test between `freePort` and the node's own bind (EADDRINUSE: a race of this
   * harness, not of kvapi), for which the whole cluster is started again on new ports.
   */
  static async start(opts: ClusterOptions = {}): Promise<ProcessCluster> {
    for (let attempt = 1; ; attempt++) {
      const c = new ProcessCluster(opts);
      try {
        for (const id of c.founders) {
          c.specs.set(id, { id, httpPort: await freePort(), peerPort: await freePort() });
        }
        for (const id of c.founders) c.spawn(id);
        await c.waitLeader();
        const dead = c.founders.filter((id) => !c.running.has(id));
        if (dead.length > 0) {
          const logs = dead.map((id) => `node ${id} exited:\n${c.logOf(id).slice(-2000)}`);
          const portRace = dead.every((id) => c.logOf(id).includes('EADDRINUSE'));
          await c.destroy();
          if (portRace && attempt < 3) continue;
          throw new Error(logs.join('\n'));
        }
        return c;
      } catch (e) {
        await c.destroy();
        throw e;
      }
    }
  }

  get ids(): string[] {
    return [...this.specs.keys()];
  }

  clusterArg(ids: readonly string[] = this.founders): string {
    return ids
      .map((id) => {
        const s = this.specs.get(id) as NodeSpec;
        return `${id},127.0.0.1:${s.httpPort},127.0.0.1:${s.peerPort}`;
      })
      .join(';');
  }

  url(id: string): string {
    return `http://127.0.0.1:${(this.specs.get(id) as NodeSpec).httpPort}`;
  }

  urls(ids: readonly string[] = this.aliveIds()): string[] {
    return ids.map((id) => this.url(id));
  }

  logOf(id: string): string {
    try {
      return readFileSync(join(this.dir, `${id}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  isAlive(id: string): boolean {
    return this.running.has(id);
  }

  aliveIds(): string[] {
    return this.ids.filter((id) => this.running.has(id));
  }

  private spawn(id: string): void {
    const s = this.specs.get(id) as NodeSpec;
    const args = this.joinArgs.get(id) ?? ['--cluster', this.clusterArg()];
    const running = spawnKvapi(
      [
        '--node',
        id,
        '--http',
        `127.0.0.1:${s.httpPort}`,
        ...args,
        '--data',
        join(this.dir, `node-${id}`),
        '--tick-ms',
        String(this.tickMs),
        '--log-level',
        'info',
        '--secret',
        TEST_SECRET,
        ...this.extraArgs,
      ],
      join(this.dir, `${id}.log`),
    );
    this.running.set(id, running);
    void running.exited.then(() => {
      if (this.running.get(id) === running) this.running.delete(id);
    });
  }

  /** Adds a node that starts empty (`--join`) and knows the current members' addresses. */
  async addJoiner(id: string): Promise<void> {
    this.specs.set(id, { id, httpPort: await freePort(), peerPort: await freePort() });
    this.joinArgs.set(id, ['--cluster', this.clusterArg([...this.founders, id]), '--join']);
    this.spawn(id);
    await this.waitHttp(id);
  }

  peerAddress(id: string): string {
    return `127.0.0.1:${(this.specs.get(id) as NodeSpec).peerPort}`;
  }

  httpAddress(id: string): string {
    return `127.0.0.1:${(this.specs.get(id) as NodeSpec).httpPort}`;
  }

  /** kill -9. */
  async kill(id: string): Promise<void> {
    const r = this.running.get(id);
    if (r === undefined) return;
    r.proc.kill('SIGKILL');
    await r.exited;
    this.running.delete(id);
  }

  /** SIGTERM and wait for a graceful exit; returns the exit code. */
  async terminate(id: string, timeoutMs = 30_000): Promise<number | null> {
    const r = this.running.get(id);
    if (r === undefined) return null;
    r.proc.kill('SIGTERM');
    const code = await Promise.race([r.exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      r.proc.kill('SIGKILL');
      await r.exited;
      throw new Error(`node ${id} did not exit within ${timeoutMs} ms of SIGTERM`);
    }
    this.running.delete(id);
    return code;
  }

  async restart(id: string): Promise<void> {
    await this.kill(id);
    this.spawn(id);
    await this.waitHttp(id);
  }

  status(id: string): Promise<Record<string, unknown> | null> {
    return fetchStatus(this.url(id));
  }

  async waitHttp(id: string, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (!this.running.has(id))
        throw new Error(`node ${id} exited:\n${this.logOf(id).slice(-2000)}`);
      if ((await this.status(id)) !== null) return;
      await sleep(100);
    }
    throw new Error(`node ${id} never served HTTP:\n${this.logOf(id).slice(-2000)}`);
  }

  /** Waits until every live node (or `ids`) names the same leader, which is live; returns it. */
  async waitLeader(ids?: readonly string[], timeoutMs = 30_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const want = ids ?? this.aliveIds();
      const sts = await Promise.all(want.map((id) => this.status(id)));
      const leaders = new Set(sts.map((s) => s?.leader ?? null));
      const [leader] = [...leaders];
      if (
        leaders.size === 1 &&
        typeof leader === 'string' &&
        this.running.has(leader) &&
        sts.some((s) => s?.role === 'leader')
      ) {
        return leader;
      }
      await sleep(100);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  /** Waits until `id` has applied at least `index`. */
  waitApplied(id: string, index: number, timeoutMs = 30_000): Promise<void> {
    return waitForApplied(id, () => this.status(id), index, timeoutMs);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.aliveIds().map((id) => this.kill(id)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** fetch that returns `{status, body, json}` and never throws on HTTP errors. */
export async function http(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; json: () => Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(15_000) });
  const body = await res.text();
  return { status: res.status, body, json: () => JSON.parse(body) as Record<string, unknown> };
}
