import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStress } from '../src/run.js';
import { SECTION, upsertSection } from '../src/sweep.js';

// Correctness only: throughput is measured by running the app, never asserted in tests.
describe('stress bench', () => {
  it('runs 3 nodes over SQLite files and WebSockets and applies the identical sequence', async () => {
    const r = await runStress({
      nodes: 3,
      storage: 'sqlite',
      transport: 'ws',
      entries: 2000,
      size: 64,
      concurrency: 64,
    });
    expect(r.identical).toBe(true);
    expect(r.entries).toBe(2000);
    expect(r.nodes.map((n) => n.appliedEntries)).toEqual([2000, 2000, 2000]);
    expect(new Set(r.nodes.map((n) => n.hash)).size).toBe(1);
    expect(r.entriesPerSecond).toBeGreaterThan(0);
    const l = r.latencyMs;
    expect(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max).toBe(true);
  });

  it('runs with every SQLite database on a worker thread (--sqlite-thread worker)', async () => {
    const r = await runStress({
      nodes: 3,
      storage: 'sqlite',
      sqliteThread: 'worker',
      transport: 'ws',
      entries: 1000,
      size: 64,
      concurrency: 64,
    });
    expect(r.identical).toBe(true);
    expect(r.options.sqliteThread).toBe('worker');
    expect(r.nodes.map((n) => n.appliedEntries)).toEqual([1000, 1000, 1000]);
  });

  it('runs in memory', async () => {
    const r = await runStress({
      nodes: 3,
      storage: 'memory',
      transport: 'memory',
      entries: 2000,
      size: 16,
      concurrency: 16,
    });
    expect(r.identical).toBe(true);
  });

  it('runs one process per node for a duration', async () => {
    const r = await runStress({
      nodes: 3,
      storage: 'sqlite',
      transport: 'ws',
      entries: 0,
      durationS: 1,
      size: 100,
      concurrency: 32,
      processes: true,
    });
    expect(r.identical).toBe(true);
    expect(r.entries).toBeGreaterThan(0);
    expect(r.durationMs).toBeGreaterThanOrEqual(1000);
    // Each node is its own process: its own CPU time and RSS.
    expect(r.nodes.every((n) => !n.shared && n.peakRssMB > 0 && n.cpuMs > 0)).toBe(true);
    expect(r.nodes.every((n) => n.appliedEntries === r.entries)).toBe(true);
  });
});

describe('sweep: BENCHMARKS.md section', () => {
  it('creates the file, then replaces only its own section', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sweep-md-'));
    try {
      const f = join(dir, 'BENCHMARKS.md');
      upsertSection(f, `${SECTION}\n\nfirst\n`);
      expect(readFileSync(f, 'utf8')).toBe(`# Benchmarks\n\n${SECTION}\n\nfirst\n`);
      writeFileSync(
        f,
        `# Benchmarks\n\n## Other\n\nkeep\n\n${SECTION}\n\nfirst\n\n## Later\n\nkeep too\n`,
      );
      upsertSection(f, `${SECTION}\n\nsecond\n`);
      expect(readFileSync(f, 'utf8')).toBe(
        `# Benchmarks\n\n## Other\n\nkeep\n\n${SECTION}\n\nsecond\n\n## Later\n\nkeep too\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
