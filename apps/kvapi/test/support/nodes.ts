/**
 * `Nodes` runs individually configured kvapi processes (each with its own `--cluster`,
 * `--join` or `--cluster-id`) for the operations tests, where a node's flags change between
 * runs (recovered, restored, joined); `runKvapi` runs a subcommand to completion. Everything
 * lives in one temp dir that `destroy()` removes after killing every process.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  APP_DIR,
  fetchStatus,
  freePort,
  http,
  kvapiCommand,
  type Running,
  sleep,
  spawnKvapi,
  waitForApplied,
} from './cluster.js';

/** The cluster secret every node gets; also the bearer token of the admin routes. */
export const SECRET = 'ops-test-secret';

export interface Addr {
  readonly id: string;
  readonly httpPort: number;
  readonly peerPort: number;
}

/** Runs `kvapi ARGS` (a subcommand) to completion; parses stdout as JSON when it exits 0. */
export function runKvapi(args: readonly string[]): {
  status: number | null;
  stdout: string;
  stderr: string;
  json: () => Record<string, unknown>;
} {
  const r = spawnSync(process.execPath, kvapiCommand(args), {
    cwd: APP_DIR,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    json: () => JSON.parse(r.stdout) as Record<string, unknown>,
  };
}

/** {@link runKvapi} without blocking the test's event loop (clients keep running meanwhile). */
export function runKvapiAsync(
  args: readonly string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      kvapiCommand(args),
      { cwd: APP_DIR, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ status: code, stdout, stderr });
      },
    );
  });
}

export class Nodes {
  readonly dir = mkdtempSync(join(tmpdir(), 'kvapi-ops-'));
  readonly addrs = new Map<string, Addr>();
  private readonly procs = new Map<string, Running>();

  async allocate(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      this.addrs.set(id, { id, httpPort: await freePort(), peerPort: await freePort() });
    }
  }

  dataDir(id: string, tag = ''): string {
    return join(this.dir, `node-${id}${tag}`);
  }

  /** `--cluster` value for `ids` (HTTP and peer addresses on 127.0.0.1). */
  clusterArg(ids: readonly string[]): string {
    return ids
      .map((id) => {
        const a = this.addrs.get(id) as Addr;
        return `${id},127.0.0.1:${a.httpPort},127.0.0.1:${a.peerPort}`;
      })
      .join(';');
  }

  url(id: string): string {
    return `http://127.0.0.1:${(this.addrs.get(id) as Addr).httpPort}`;
  }

  httpAddress(id: string): string {
    return `127.0.0.1:${(this.addrs.get(id) as Addr).httpPort}`;
  }

  peerAddress(id: string): string {
    return `127.0.0.1:${(this.addrs.get(id) as Addr).peerPort}`;
  }

  logOf(id: string): string {
    try {
      return readFileSync(join(this.dir, `${id}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /** Starts node `id` with `--node --http --data --tick-ms 50 --secret` plus `args`. */
  async start(id: string, args: readonly string[], data = this.dataDir(id)): Promise<void> {
    const a = this.addrs.get(id) as Addr;
    const running = spawnKvapi(
      [
        '--node',
        id,
        '--http',
        `127.0.0.1:${a.httpPort}`,
        '--data',
        data,
        '--tick-ms',
        '50',
        '--secret',
        SECRET,
        '--log-level',
        'info',
        ...args,
      ],
      join(this.dir, `${id}.log`),
    );
    this.procs.set(id, running);
    void running.exited.then(() => {
      if (this.procs.get(id) === running) this.procs.delete(id);
    });
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      if (!this.procs.has(id))
        throw new Error(`node ${id} exited:\n${this.logOf(id).slice(-3000)}`);
      if ((await this.status(id)) !== null) return;
      await sleep(100);
    }
    throw new Error(`node ${id} never served HTTP:\n${this.logOf(id).slice(-3000)}`);
  }

  /** kill -9, and wait for the exit. */
  async kill(id: string): Promise<void> {
    const p = this.procs.get(id);
    if (p === undefined) return;
    p.proc.kill('SIGKILL');
    await p.exited;
    this.procs.delete(id);
  }

  status(id: string): Promise<Record<string, unknown> | null> {
    return fetchStatus(this.url(id), {});
  }

  /** Waits until every node in `ids` names the same leader, one of `ids`; returns it. */
  async waitLeader(ids: readonly string[], timeoutMs = 30_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const sts = await Promise.all(ids.map((id) => this.status(id)));
      const leaders = new Set(sts.map((s) => s?.leader ?? null));
      const [leader] = [...leaders];
      if (leaders.size === 1 && typeof leader === 'string' && ids.includes(leader)) return leader;
      await sleep(100);
    }
    throw new Error(`no common leader among ${ids.join(',')} within ${timeoutMs} ms`);
  }

  /** Waits until `id` has applied at least `index`. */
  waitApplied(id: string, index: number, timeoutMs = 30_000): Promise<void> {
    return waitForApplied(id, () => this.status(id), index, timeoutMs);
  }

  /** Adds `id` as a learner through `via`'s admin route, then promotes it to voter. */
  async addVoter(via: string, id: string): Promise<void> {
    const post = (path: string, body: unknown) =>
      http(`${this.url(via)}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { authorization: `Bearer ${SECRET}` },
      });
    const add = await post('/admin/learner', {
      id,
      peer: this.peerAddress(id),
      http: this.httpAddress(id),
    });
    if (add.status !== 200) throw new Error(`/admin/learner ${id}: ${add.status} ${add.body}`);
    const end = Date.now() + 30_000;
    for (;;) {
      const promote = await post('/admin/promote', { id });
      if (promote.status === 200) return;
      // A promotion may be refused while the previous change is in flight; retry briefly.
      if (Date.now() > end)
        throw new Error(`/admin/promote ${id}: ${promote.status} ${promote.body}`);
      await sleep(200);
    }
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
