/**
 * Lease reads (readOnly: 'lease') rely on clocks ticking at the same rate (see RaftConfig.readOnly
 * and docs/decisions/0004). This shows both sides of that assumption on the simulator: with a
 * little drift the isolated old leader's reads stay linearizable; when the old leader's clock
 * runs far slower than its followers', its lease outlives its leadership and the simulator's
 * read-freshness invariant catches the stale read the moment it is served.
 */
import { describe, expect, it } from 'vitest';
import { checkOperations } from '../src/testing/linearizability/checker.js';
import { type KvOperation, kvModel } from '../src/testing/linearizability/kv-model.js';
import { encodeKvCommand, SimCluster } from '../src/testing/sim-cluster.js';
import type { NodeId } from '../src/types.js';
import { withCluster } from './support/sim-helpers.js';

const SEED = Number(process.env.SEED ?? 7_7002);

/** Puts through `id` and waits; returns the history entry. */
async function put(c: SimCluster, id: NodeId, value: string): Promise<KvOperation> {
  const call = c.now;
  let ok = false;
  void c.propose(id, encodeKvCommand({ op: 'put', key: 'k', value })).then((r) => {
    ok = r.ok;
  });
  if (!(await c.runUntil(() => ok, 3000))) throw new Error(`put ${value} failed`);
  return { clientId: 0, input: { op: 'put', key: 'k', value }, output: 'ok', call, return: c.now };
}

/**
 * Isolates the leader (whose clock runs at `rate`), keeps reading at it every 5 ms, lets the
 * others elect a new leader and write a new value, and returns the checked history.
 */
async function isolatedLeaseLeader(rate: number): Promise<{ result: string; served: number }> {
  const c = await SimCluster.create({ seed: SEED, readOnly: 'lease' });
  let out = { result: 'unset', served: 0 };
  await withCluster(c, async () => {
    const leader = await c.waitForLeader();
    c.setClockRate(leader, rate);
    const history: KvOperation[] = [await put(c, leader, 'old')];
    await c.run(250);
    c.disconnect(leader);
    let reading = true;
    let served = 0;
    const read = (): void => {
      if (!reading) return;
      const call = c.now;
      void c.get(leader, 'k').then((r) => {
        if (!r.ok) return;
        served++;
        history.push({
          clientId: 1,
          input: { op: 'get', key: 'k' },
          output: r.value,
          call,
          return: c.now,
        });
      });
      c.schedule(5, read);
    };
    c.schedule(0, read);
    const rest = c.ids.filter((id) => id !== leader);
    const next = await c.waitForLeader(rest, 5000);
    history.push(await put(c, next, 'new'));
    await c.run(1500);
    reading = false;
    await c.run(500);
    out = { result: checkOperations(kvModel, history).result, served };
  });
  return out;
}

describe('lease reads and clock drift', () => {
  it('stay linearizable when clocks drift by 5%', async () => {
    const r = await isolatedLeaseLeader(1.05);
    expect(r.served).toBeGreaterThan(0); // the lease was used after the partition
    expect(r.result).toBe('ok');
  });

  it('serve a stale read when the old leader runs 60% slow — the documented assumption', async () => {
    // (With this seed the lease outlives leadership from 40% drift on; whether a read lands
    // in that window depends on tick phases, so other seeds may need more drift.)
    await expect(isolatedLeaseLeader(1.6)).rejects.toThrow(
      /read freshness \(§6\.4\) violated: a read at n\d began after index \d+ was committed/,
    );
  });
});
