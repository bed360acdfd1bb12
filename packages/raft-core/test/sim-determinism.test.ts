import { describe, expect, it } from 'vitest';
import { SimCluster } from '../src/testing/sim-cluster.js';

const enc = (s: string) => new TextEncoder().encode(s);

async function traceOf(
  seed: number,
): Promise<{ trace: number; steps: number; now: number; log: string[] }> {
  const c = await SimCluster.create({
    seed,
    nodes: 5,
    network: { maxDelayMs: 20, dropRate: 0.1, duplicateRate: 0.05, reorderRate: 0.1 },
  });
  try {
    const leader = await c.waitForLeader();
    for (let i = 0; i < 5; i++) await c.one(enc(`v${i}`), 3);
    c.crash(leader);
    c.partition(['n1', 'n2'], ['n3', 'n4', 'n5']);
    await c.run(3000);
    c.heal();
    await c.restart(leader);
    await c.one(enc('last'), 5);
    const log: string[] = [];
    for (let i = 1; i <= c.appliedIndex('n1'); i++)
      log.push(new TextDecoder().decode(c.appliedAt('n1', i)?.data));
    return { trace: c.trace(), steps: c.stats.steps, now: c.now, log };
  } finally {
    c.stop();
  }
}

describe('SimCluster determinism', () => {
  it('same seed ⇒ same trace', async () => {
    const a = await traceOf(7);
    const b = await traceOf(7);
    expect(b).toEqual(a);
    expect(a.steps).toBeGreaterThan(1000);
  });

  it('different seeds ⇒ different traces', async () => {
    const a = await traceOf(7);
    const b = await traceOf(8);
    expect(b.trace).not.toBe(a.trace);
  });
});

describe('SimCluster failure detection', () => {
  it('a node that stops on a fatal error fails the run', async () => {
    const c = await SimCluster.create({ seed: 3 });
    try {
      await c.waitForLeader();
      // White-box: make n1's driver fail as a storage or state machine error would.
      (c.node('n1') as unknown as { fail(e: unknown, what: string): void }).fail(
        new Error('boom'),
        'Storage',
      );
      await expect(c.run(100)).rejects.toThrow(/no node fails/);
    } finally {
      c.stop();
    }
  });
});
