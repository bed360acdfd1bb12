import { describe, expect, it } from 'vitest';
import { runStress } from '../src/run.js';

// Correctness only: throughput is measured by running the app, never asserted in tests.
describe('stress', () => {
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
    expect(r.entriesPerSecond).toBeGreaterThan(0);
    expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p99);
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
});
