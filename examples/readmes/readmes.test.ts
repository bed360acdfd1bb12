/**
 * Every ```ts block of every README.md in the repository is a program, and CI runs it: each block
 * is written to a file in this package (so `raft-core` & co. resolve to the workspace's
 * sources), typechecked with the repository's strict settings, then run with tsx and must exit 0
 * within a bound. So a README cannot show code that does not compile or does not run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const TMP = join(import.meta.dirname, `.blocks-${process.pid}`);
const RUN_TIMEOUT_MS = 60_000;

/** README.md files of the repository (not of dependencies). */
function readmes(dir = ROOT): string[] {
  return readdirSync(dir).flatMap((f) => {
    if (f === 'node_modules' || f.startsWith('.') || f === 'dist') return [];
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return readmes(p);
    return f === 'README.md' ? [p] : [];
  });
}

interface Block {
  readonly readme: string;
  readonly line: number;
  readonly code: string;
}

/** The ```ts / ```typescript blocks of a Markdown file. */
export function tsBlocks(readme: string): Block[] {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] ?? '')) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end++;
    out.push({ readme, line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return out;
}

/** What some blocks must print (on top of exiting 0), so a block that does nothing fails. */
const EXPECTED_OUTPUT: Record<string, RegExp[]> = {
  'packages/raft-core/README.md:1': [/^leader: [abc]$/m, /^proposal applied: greeting was null$/m],
  'packages/raft-kv/README.md:1': [/^cas swapped: true, was blue$/m, /^follower reads green$/m],
  'packages/raft-storage-sqlite/README.md:1': [/^after restart: 3 entries applied$/m],
  'packages/raft-storage-sqlite/README.md:2': [
    /^worker thread stored 3 entries, last term 1$/m,
    /^second open: Locked$/m,
  ],
  'packages/raft-transport-ws/README.md:1': [/^leader: n[123]$/m, /^replicated to 3 nodes$/m],
};

const blocks = readmes()
  .sort()
  .flatMap((r) => tsBlocks(r).map((b, i) => ({ ...b, id: `${relative(ROOT, r)}:${i + 1}` })));

mkdirSync(TMP, { recursive: true });
const files = blocks.map((b, i) => {
  const file = join(TMP, `block-${i + 1}.ts`);
  // The header maps errors back to the README; `export {}` makes every block a module.
  writeFileSync(file, `// ${b.id} (line ${b.line})\n${b.code}\nexport {};\n`);
  return file;
});
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

function run(file: string): Promise<{ code: number | null; out: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@tsraft/source', '--import', 'tsx', file],
      { cwd: import.meta.dirname, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, timedOut });
    });
  });
}

describe('README code blocks', () => {
  it('finds the blocks of every package README', () => {
    const ids = blocks.map((b) => b.id);
    for (const id of Object.keys(EXPECTED_OUTPUT)) expect(ids).toContain(id);
  });

  it('typecheck (strict, as the repository)', () => {
    const tsconfig = join(TMP, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({ extends: '../../../tsconfig.base.json', include: ['*.ts'] }),
    );
    const tsc = spawnSync(process.execPath, [tscCli(), '--noEmit', '-p', tsconfig], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
    });
    const report = (tsc.stdout + tsc.stderr).replace(/block-(\d+)\.ts/g, (_, n) => {
      const b = blocks[Number(n) - 1];
      return b ? `${b.id} [block-${n}.ts, 1 header line]` : `block-${n}.ts`;
    });
    expect(report).toBe('');
    expect(tsc.status).toBe(0);
  }, 120_000);

  for (const [i, b] of blocks.entries()) {
    it(
      `${b.id} (line ${b.line}) runs to completion`,
      async () => {
        const r = await run(files[i] as string);
        expect(r.timedOut, `timed out after ${RUN_TIMEOUT_MS} ms:\n${r.out}`).toBe(false);
        expect(r.code, r.out).toBe(0);
        for (const re of EXPECTED_OUTPUT[b.id] ?? []) expect(r.out).toMatch(re);
      },
      RUN_TIMEOUT_MS + 10_000,
    );
  }
});

/** The TypeScript compiler's CLI script, from the repository's pinned `typescript`. */
function tscCli(): string {
  return join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
}
