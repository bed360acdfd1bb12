/**
 * The chaos run CI relies on: `stress chaos` as a real child process (kvapi from source, so a
 * stale build is never what is tested), a fixed seed, every nemesis on, zero violations and a
 * converged cluster required. Plus proof that the checker can fail: `stress check` on
 * hand-made histories, one linearizable and one not.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SEED = Number(process.env.CHAOS_SEED ?? 20261129);
const TIME_S = Number(process.env.CHAOS_TIME ?? 60);

function stress(
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const p = spawn(
      process.execPath,
      ['--conditions=@tsraft/source', '--import', 'tsx', 'src/main.ts', ...args],
      { cwd: APP, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INIT_CWD: APP } },
    );
    let out = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    p.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    // SIGINT is stress's own clean stop (it kills its kvapi processes and proxies).
    const t = setTimeout(() => p.kill('SIGINT'), timeoutMs);
    p.once('error', rej);
    p.once('exit', (code) => {
      clearTimeout(t);
      res({ code, out });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'stress-check-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function history(name: string, events: object[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  return file;
}

describe('stress check', () => {
  const put = (p: number, value: string, t: number) => [
    { type: 'invoke', process: p, f: 'put', key: 'x', value, node: 'n1', time: t },
    { type: 'ok', process: p, f: 'put', key: 'x', time: t + 1 },
  ];
  const get = (p: number, value: string | null, t: number) => [
    { type: 'invoke', process: p, f: 'get', key: 'x', node: 'n2', time: t },
    { type: 'ok', process: p, f: 'get', key: 'x', value, time: t + 1 },
  ];

  it('accepts a linearizable history (with an unknown write and a failed one)', async () => {
    const file = history('good.jsonl', [
      ...put(0, 'a', 0),
      { type: 'invoke', process: 1, f: 'put', key: 'x', value: 'b', node: 'n1', time: 3 },
      { type: 'info', process: 1, f: 'put', key: 'x', error: 'HTTP 504 Timeout', time: 9 },
      { type: 'invoke', process: 2, f: 'put', key: 'x', value: 'c', node: 'n3', time: 4 },
      { type: 'fail', process: 2, f: 'put', key: 'x', error: 'HTTP 503 NotLeader', time: 5 },
      ...get(3, 'b', 20),
      { type: 'info', process: 'nemesis', f: 'kill', value: 'n1', time: 21 },
      ...get(3, 'b', 30),
    ]);
    const r = await stress(['check', file], 60_000);
    expect(r.out).toContain('verdict: PASS, 0 violations');
    expect(r.code).toBe(0);
  });

  it('rejects a stale read and a read of a failed write, and shows the smallest (shrunk) history', async () => {
    const stale = history('stale.jsonl', [
      ...put(0, 'a', 0),
      ...put(0, 'b', 2),
      ...get(1, 'a', 10),
    ]);
    const r = await stress(['check', stale], 60_000);
    expect(r.code).toBe(1);
    expect(r.out).toContain('verdict: FAIL, 1 violations');
    expect(r.out).toContain('smallest failing history (3 operations)');

    const failed = history('failed.jsonl', [
      { type: 'invoke', process: 0, f: 'put', key: 'x', value: 'z', node: 'n1', time: 0 },
      { type: 'fail', process: 0, f: 'put', key: 'x', error: 'HTTP 503 NotLeader', time: 1 },
      ...get(1, 'z', 5),
    ]);
    const r2 = await stress(['check', failed], 60_000);
    expect(r2.code).toBe(1);
  });

  it('exits 2 on a file that is not a history, or no file', async () => {
    expect((await stress(['check', history('junk.jsonl', [{ nope: true }])], 60_000)).code).toBe(2);
    expect((await stress(['check', join(dir, 'missing.jsonl')], 60_000)).code).toBe(2);
  });
});

describe('stress chaos', () => {
  it(
    `${TIME_S} s of every nemesis against 3 kvapi processes: 0 violations, converged (seed ${SEED})`,
    async () => {
      const args = ['chaos', '--time', String(TIME_S), '--seed', String(SEED), '--kvapi', 'source'];
      const r = await stress(args, (TIME_S + 150) * 1000);
      const repro = `reproduce: pnpm stress chaos --time ${TIME_S} --seed ${SEED} --kvapi source`;
      if (r.code !== 0) console.error(`${r.out}\n${repro}`);
      expect(r.code, repro).toBe(0);
      expect(r.out).toMatch(/verdict: PASS, 0 violations/);
      expect(r.out).toMatch(/convergence: every node applied index \d+/);
      // The nemesis really ran, and the clients really got answers.
      const episodes = r.out.match(/^ +[\d.]+ s {2}nemesis /gm) ?? [];
      // Admin faults (transfer, remove/re-add) must really run, not bounce off auth.
      expect(r.out).not.toMatch(/nemesis \S+ .*HTTP 40[13]/);
      expect(episodes.length, r.out).toBeGreaterThanOrEqual(4);
      const ok = Number(/^total +\d+ +(\d+)/m.exec(r.out)?.[1] ?? 0);
      expect(ok, r.out).toBeGreaterThan(200);
    },
    (TIME_S + 180) * 1000,
  );
});
