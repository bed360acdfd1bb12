/**
 * Figure 8 of the Raft paper (§5.4.2), orchestrated on the SimCluster with the real driver:
 * a leader of term T3 replicates an entry X from term T1 to a majority, but not yet its own
 * term-T3 no-op, and then crashes. A node holding a different entry at X's index (from term T2)
 * can still be elected, so X must NOT have been committed by counting replicas. With the §5.4.2
 * rule removed, the invariant checker reports the overwritten committed entry.
 */
import { describe, expect, it } from 'vitest';
import { SimCluster } from '../src/testing/sim-cluster.js';
import type { NodeId } from '../src/types.js';
import { raft } from './support/sim-helpers.js';

const enc = (s: string) => new TextEncoder().encode(s);

async function elect(c: SimCluster, id: NodeId): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    c.node(id).campaign();
    if (await c.runUntil(() => c.isAlive(id) && raft(c, id).role === 'leader', 300)) return;
  }
  throw c.annotate(new Error(`${id} could not be elected\n${c.describeState()}`));
}

describe('Figure 8 (§5.4.2) on the simulator', () => {
  it('a leader never commits an entry from an earlier term by counting replicas', async () => {
    const c = await SimCluster.create({
      seed: 8,
      nodes: 5,
      // Elections only when the test asks for them; one entry per MsgApp, one MsgApp in flight.
      electionTick: 100_000,
      preVote: false,
      checkQuorum: false,
      maxSizePerMsg: 1,
      maxInflightMsgs: 1,
    });
    try {
      // (a) n1 leads term T1 and everyone agrees up to index b.
      await elect(c, 'n1');
      const b = await c.one(enc('base'), 5);

      // n1 replicates X (term T1) at b+1 to n2 only.
      c.partition(['n1', 'n2'], ['n3', 'n4', 'n5']);
      const x = c.start('n1', enc('X'));
      expect(x.index).toBe(b + 1);
      expect(await c.runUntil(() => raft(c, 'n2').log.lastIndex() === b + 1, 1000)).toBe(true);
      c.crash('n1');

      // (b) n5 wins term T2 with votes from n3 and n4 and appends its no-op at b+1, which it
      // never manages to replicate.
      await elect(c, 'n5');
      c.blockOneWay('n5', 'n3');
      c.blockOneWay('n5', 'n4');
      expect(raft(c, 'n5').log.term(b + 1)).toBe(raft(c, 'n5').term);
      expect(await c.runUntil(() => raft(c, 'n5').log.stable >= b + 1, 1000)).toBe(true);
      c.crash('n5');
      await c.run(100); // let its in-flight messages be dropped

      // (c) n1 restarts and wins term T3 (n2, n3, n4 vote for it). It brings n3 up to X at b+1
      // but its own no-op (b+2) reaches only n2; n4 hears nothing.
      c.heal();
      c.blockOneWay('n1', 'n4');
      await c.restart('n1');
      await elect(c, 'n1');
      const t3 = raft(c, 'n1').term;
      expect(
        await c.runUntil(
          () => (raft(c, 'n1').tracker.progress.get('n3')?.match ?? 0) >= b + 1,
          2000,
        ),
      ).toBe(true);
      c.blockOneWay('n1', 'n3');
      // X is now on n1, n2 and n3 — a majority — but it is from term T1 < T3: it must not
      // commit (a broken leader would commit and apply it here).
      await c.run(300);
      expect(raft(c, 'n1').log.committed).toBeLessThan(b + 1);
      expect(t3).toBeGreaterThan(1);
      c.crash('n1');
      await c.run(100);

      // (d) n5 restarts and wins with n3 and n4 (its last term T2 beats their T1), overwriting X.
      c.heal();
      c.crash('n2');
      await c.restart('n5');
      await elect(c, 'n5');
      await c.restart('n1');
      await c.restart('n2');
      const last = await c.one(enc('after'), 5);
      // X was never committed, so it may be (and here is) replaced.
      expect(c.appliedAt('n1', b + 1)?.data).not.toEqual(enc('X'));
      expect(last).toBeGreaterThan(b + 1);
    } catch (e) {
      throw c.annotate(e);
    } finally {
      c.stop();
    }
  });
});
