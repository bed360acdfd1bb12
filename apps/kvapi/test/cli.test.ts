import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { APP_DIR, kvapiCommand } from './support/cluster.js';

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, kvapiCommand(args), {
    cwd: APP_DIR,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kvapi command line', () => {
  it('--help explains every flag and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const flag of [
      '--node',
      '--http',
      '--cluster',
      '--data',
      '--secret',
      '--cluster-id',
      '--join',
      '--tick-ms',
      '--snapshot-entries',
      '--log-level',
      'KVAPI_SECRET',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [
      ['--node', '9', '--http', ':2020', '--cluster', '0,:2020;1,:2021'],
      /--node 9 is not in --cluster/,
    ],
    [['--node', '0', '--http', 'nope', '--cluster', '0,:2020'], /--http: expected \[HOST\]:PORT/],
    [['--node', '0', '--http', ':2020', '--cluster', '0,:2020', '--tick-ms', 'x'], /--tick-ms/],
    [['--node', '0', '--http', ':2020', '--cluster', '0;1'], /--cluster/],
    [['--http', ':2020', '--cluster', '0,:2020'], /--node is required/],
  ])('%j exits non-zero with one clear line', (args, re) => {
    const r = run(args as string[]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(re);
  });
});
