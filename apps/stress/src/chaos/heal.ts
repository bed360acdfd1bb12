/**
 * The heal phase's two steps besides removing faults: bring every founding member back as a
 * voter, and read every key once (linearizably, retried until it answers) so the history ends
 * with reads that every acknowledged write must be visible to.
 */
import type { Rng } from 'raft-core/testing';
import { type ClientEnv, perform } from './client.js';
import { admin, type Nemesis } from './nemesis.js';
import { type Nodes, sleep } from './nodes.js';

export async function finalReads(env: ClientEnv, keys: readonly string[], rng: Rng): Promise<void> {
  let p = env.newProcess();
  for (const key of keys) {
    const by = Date.now() + 30_000;
    for (;;) {
      const node = rng.pick(env.ids());
      env.record({ type: 'invoke', process: p, f: 'get', key, node, time: env.now() });
      const out = await perform(env.url(node), 'get', key, undefined, env.timeoutMs);
      env.record({ process: p, f: 'get', key, ...out, time: env.now() });
      // An unanswered read may still be "in flight": go on as a new process.
      if (out.type === 'info') p = env.newProcess();
      if (out.type === 'ok' || Date.now() > by) break;
      await sleep(200);
    }
  }
}

/** Any founding member that is not a voter (a re-add that failed mid-way) is brought back. */
export async function promoteStragglers(nodes: Nodes, nemesis: Nemesis, rng: Rng): Promise<void> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    const leader = await nodes.leader();
    const st = leader === null ? null : await nodes.status(leader);
    if (st === null) {
      await sleep(300);
      continue;
    }
    const missing = nodes.ids.filter(
      (id) => !st.members.some((m) => m.id === id && m.role === 'voter'),
    );
    if (missing.length === 0) return;
    for (const id of missing) {
      const learner = st.members.some((m) => m.id === id);
      if (learner) await admin(nodes, rng, '/admin/promote', { id });
      else await nemesis.readd(id);
    }
  }
}
