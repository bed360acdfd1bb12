import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SqliteLogStorage } from '../src/index.js';
import { MemoryLogStorage } from './support/core-testing.js';
import { buildWrite, mulberry32, type WriteDesc } from './support/crash-protocol.js';
import { equal, expectEqual } from './support/equal.js';
import { THREADS, type Thread } from './support/modes.js';
import { TempDirs } from './support/temp-dirs.js';

/**
 * Crash tests with real processes. A child appends to the database as fast as it can and reports
 * each write's intent before `save` and its acknowledgement after `save` resolved; the parent
 * SIGKILLs it at a random moment (sometimes while it is still opening), reopens the database with
 * full verification and checks it against MemoryLogStorage fed with the acknowledged writes: every
 * acknowledged write is there, and the one write in flight is there entirely or not at all.
 *
 * Both with the database on the child's main thread and on a worker thread (the SIGKILL ends both
 * threads; the worker's commits and fsyncs must give the same guarantees).
 *
 * CRASH_SEED=<n> replays a seed, CRASH_ITERATIONS=<n> changes the number of kills (the worker
 * variant does half as many: each child also starts a thread).
 */

const SEED = process.env.CRASH_SEED === undefined ? 4_242 : Number(process.env.CRASH_SEED);
const ITERATIONS =
  process.env.CRASH_ITERATIONS === undefined ? 20 : Number(process.env.CRASH_ITERATIONS);
const CHILD = fileURLToPath(new URL('./support/crash-child.ts', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

const dirs = new TempDirs();
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});
afterAll(() => dirs.removeAll());

interface ChildRun {
  readonly lines: string[];
  readonly stderr: string;
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
}

/**
 * `CrashChild` is one child process, spawned at once (module loading takes a while) and started
 * with `run()`. `killWhen(line)` returns a delay in ms after which to SIGKILL the child once that
 * line arrives (undefined: keep waiting). `run()` resolves when the child has exited.
 */
class CrashChild {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  #stderr = '';
  #partial = '';
  #killWhen: ((line: string) => number | undefined) | undefined;
  #scheduled = false;
  readonly #exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    thread: Thread,
    path: string,
    seed: number,
    synchronous: 'full' | 'normal',
    selfKillAfter?: number,
  ) {
    const args = [
      '--conditions=@tsraft/source',
      '--import',
      'tsx',
      CHILD,
      path,
      String(seed),
      synchronous,
    ];
    if (selfKillAfter !== undefined) args.push(String(selfKillAfter));
    const child = spawn(process.execPath, args, {
      cwd: PACKAGE_DIR,
      env: { ...process.env, CRASH_THREAD: thread },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child = child;
    children.add(child);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.#onData(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    child.stdin?.on('error', () => {});
    this.#exited = new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        children.delete(child);
        resolve({ code, signal });
      });
    });
  }

  async run(killWhen: (line: string) => number | undefined): Promise<ChildRun> {
    this.#killWhen = killWhen;
    this.#child.stdin?.write('go\n');
    const watchdog = setTimeout(() => this.#child.kill('SIGKILL'), 30_000);
    const { code, signal } = await this.#exited;
    clearTimeout(watchdog);
    // A partial last line (the process died while printing it) is ignored: it was never complete.
    return { lines: this.#lines, stderr: this.#stderr, code, signal };
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }

  #onData(chunk: string): void {
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) {
      this.#lines.push(line);
      const delay =
        this.#scheduled || this.#killWhen === undefined ? undefined : this.#killWhen(line);
      if (delay !== undefined) {
        this.#scheduled = true;
        setTimeout(() => this.kill(), delay);
      }
    }
  }
}

/**
 * Feed the child's acknowledged writes into `model`; returns the write in flight at the kill
 * (intent printed, acknowledgement not), if any.
 */
async function replay(
  model: MemoryLogStorage,
  lines: readonly string[],
): Promise<WriteDesc | undefined> {
  let pending: WriteDesc | undefined;
  for (const line of lines) {
    if (line.startsWith('I ')) pending = JSON.parse(line.slice(2)) as WriteDesc;
    else if (line === 'A') {
      if (pending === undefined) throw new Error('acknowledgement without intent');
      await model.save(buildWrite(pending), true);
      pending = undefined;
    }
  }
  return pending;
}

async function snapshotOf(s: {
  initialState(): Promise<unknown>;
  entries: SqliteLogStorage['entries'];
  snapshot: SqliteLogStorage['snapshot'];
}) {
  const st = (await s.initialState()) as { firstIndex: number; lastIndex: number };
  return {
    state: st,
    entries: await s.entries(st.firstIndex, st.lastIndex + 1),
    snapshot: await s.snapshot(),
  };
}

describe.each(THREADS)('crash safety with SIGKILL (%s thread)', (thread) => {
  const iterations = thread === 'main' ? ITERATIONS : Math.ceil(ITERATIONS / 2);
  it(`keeps every acknowledged write across ${iterations} kills at random moments`, async () => {
    const dir = await dirs.make();
    const path = join(dir, 'raft.db');
    const model = new MemoryLogStorage();
    const rnd = mulberry32(SEED);
    const failHint = (i: number) =>
      `crash test failed at iteration ${i} with seed ${SEED}; reproduce with: CRASH_SEED=${SEED} pnpm vitest run --project raft-storage-sqlite crash -t '${thread} thread'`;
    let acked = 0;
    let inFlightLanded = 0;
    const plans = Array.from({ length: iterations }, (_, i) => {
      const early = rnd() < 0.15;
      return {
        early,
        delay: Math.floor(rnd() * (early ? 30 : 150)),
        seed: Math.floor(rnd() * 2 ** 31),
        synchronous: i % 4 === 3 ? ('normal' as const) : ('full' as const),
      };
    });
    const spawnFor = (i: number) => {
      const p = plans[i];
      return p === undefined ? undefined : new CrashChild(thread, path, p.seed, p.synchronous);
    };
    let next = spawnFor(0);
    for (let i = 0; i < iterations; i++) {
      const plan = plans[i]!;
      const child = next!;
      const run = await child.run((line) =>
        line === (plan.early ? 'opening' : 'ready') ? plan.delay : undefined,
      );
      next = spawnFor(i + 1);
      try {
        expect(run.signal, `child exited by itself (code ${run.code}): ${run.stderr}`).toBe(
          'SIGKILL',
        );
        acked += run.lines.filter((l) => l === 'A').length;
        const pending = await replay(model, run.lines);
        const storage = await SqliteLogStorage.open({
          path,
          clusterId: 'crash',
          nodeId: 'n1',
          verify: 'full',
        });
        try {
          const actual = await snapshotOf(storage);
          let expected = await snapshotOf(model);
          if (!equal(actual, expected) && pending !== undefined) {
            // The write in flight may have committed before the kill: then all of it must be there.
            await model.save(buildWrite(pending), true);
            expected = await snapshotOf(model);
            inFlightLanded++;
          }
          expectEqual(actual, expected, `database after kill ${i}`);
          const snap = actual.state.firstIndex - 1;
          if (snap > 0 && rnd() < 0.3) await storage.compact(snap);
        } finally {
          await storage.close();
        }
      } catch (e) {
        console.error(failHint(i));
        throw new Error(`${failHint(i)}\n${e instanceof Error ? e.message : String(e)}`, {
          cause: e,
        });
      }
    }
    // Sanity: the children really wrote (the kills did not all land before the first write).
    expect(acked).toBeGreaterThan(iterations);
    console.log(
      `crash test (${thread} thread): ${iterations} kills, ${acked} acknowledged writes, in-flight write landed ${inFlightLanded} times`,
    );
  });

  it('keeps every acknowledged write when the child SIGKILLs itself right after an acknowledgement', async () => {
    const dir = await dirs.make();
    const path = join(dir, 'raft.db');
    const run = await new CrashChild(thread, path, 99, 'full', 200).run(() => undefined);
    expect(run.signal, run.stderr).toBe('SIGKILL');
    const model = new MemoryLogStorage();
    expect(await replay(model, run.lines)).toBeUndefined();
    expect(run.lines.filter((l) => l === 'A')).toHaveLength(200);
    const storage = await SqliteLogStorage.open({
      path,
      clusterId: 'crash',
      nodeId: 'n1',
      verify: 'full',
    });
    try {
      expectEqual(
        await snapshotOf(storage),
        await snapshotOf(model),
        'database after an unclean shutdown',
      );
    } finally {
      await storage.close();
    }
  });
});
