/**
 * The end of a chaos run: with every fault healed and the clients stopped, every node must
 * reach the same applied index with every founding member a voter, and hold the same data
 * (compared through each node's own stale, local `GET /kv` listing, so no node answers for
 * another).
 */
import { type Nodes, sleep } from './nodes.js';

export interface Convergence {
  readonly ok: boolean;
  readonly appliedIndex: number;
  readonly keys: number;
  readonly detail: string;
}

async function listing(nodes: Nodes, id: string): Promise<string | null> {
  const items: { key: string; value: string }[] = [];
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ prefix: '', limit: '1000', consistency: 'stale' });
    if (after !== undefined) q.set('after', after);
    try {
      const res = await fetch(`${nodes.url(id)}/kv?${q}`, { signal: AbortSignal.timeout(5000) });
      if (res.status !== 200) return null;
      const page = (await res.json()) as { items: { key: string; value: string }[]; more: boolean };
      items.push(...page.items);
      if (!page.more || page.items.length === 0) break;
      after = page.items[page.items.length - 1]?.key;
    } catch {
      return null;
    }
  }
  return JSON.stringify(items);
}

export async function converge(nodes: Nodes, timeoutMs: number): Promise<Convergence> {
  const end = Date.now() + timeoutMs;
  let detail = 'no status yet';
  while (Date.now() < end) {
    const sts = await Promise.all(nodes.ids.map((id) => nodes.status(id)));
    const missing = nodes.ids.filter((_, i) => sts[i] === null);
    if (missing.length > 0) {
      detail = `no /status from ${missing.join(', ')}`;
      await sleep(500);
      continue;
    }
    const applied = sts.map((s) => s?.appliedIndex ?? -1);
    const commits = sts.map((s) => s?.commitIndex ?? -1);
    const notVoter = nodes.ids.filter(
      (id) => !sts.every((s) => s?.members.some((m) => m.id === id && m.role === 'voter')),
    );
    if (new Set(applied).size !== 1 || new Set(commits).size !== 1 || notVoter.length > 0) {
      detail =
        `applied ${nodes.ids.map((id, i) => `${id}=${applied[i]}`).join(' ')}` +
        (notVoter.length > 0 ? `; not a voter everywhere: ${notVoter.join(', ')}` : '');
      await sleep(500);
      continue;
    }
    const lists = await Promise.all(nodes.ids.map((id) => listing(nodes, id)));
    if (lists.some((l) => l === null)) {
      detail = 'a listing failed';
      await sleep(500);
      continue;
    }
    if (new Set(lists).size !== 1) {
      detail = `same applied index ${applied[0]} but different data on ${nodes.ids
        .filter((_, i) => lists[i] !== lists[0])
        .join(', ')}`;
      await sleep(500);
      continue;
    }
    const keys = (JSON.parse(lists[0] as string) as unknown[]).length;
    return { ok: true, appliedIndex: applied[0] as number, keys, detail: 'converged' };
  }
  return { ok: false, appliedIndex: -1, keys: -1, detail };
}
