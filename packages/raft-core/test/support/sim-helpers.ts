import type { SimCluster } from '../../src/testing/sim-cluster.js';
import type { NodeId } from '../../src/types.js';

/**
 * Runs `body` against `c`, then checks no proposal promise was lost; annotates failures with
 * the seed and simulated time; always stops the cluster.
 */
export async function withCluster(
  c: SimCluster,
  body: (c: SimCluster) => Promise<void>,
): Promise<void> {
  try {
    await body(c);
    c.checkNoLostProposals();
  } catch (e) {
    throw c.annotate(e);
  } finally {
    c.stop();
  }
}

/** The pure core of a live node (for white-box assertions). */
export function raft(c: SimCluster, id: NodeId) {
  return c.node(id)._raw.raft;
}

/** How many messages of `type` were sent so far. */
export function msgs(c: SimCluster, type: string): number {
  return c.stats.byType[type] ?? 0;
}

/** The node at position `i` modulo the cluster size (the lab's `(leader + k) % servers`). */
export function at(c: SimCluster, i: number): NodeId {
  return c.ids[((i % c.ids.length) + c.ids.length) % c.ids.length] as NodeId;
}
