import { KvClient } from 'raft-kv';
import { afterEach, describe, expect, it } from 'vitest';
import { runTool } from '../src/tools.js';
import { http } from './support/cluster.js';
import { Nodes, runKvapi } from './support/nodes.js';

let n: Nodes | undefined;

afterEach(async () => {
  await n?.destroy();
  n = undefined;
});

describe('kvapi recover (lost quorum)', () => {
  it('rebuilds a cluster from the one survivor of three, keeping every committed write', async () => {
    n = new Nodes();
    const founders = ['0', '1', '2'];
    await n.allocate([...founders, '3', '4']);
    const clusterArg = n.clusterArg(founders);
    // A low snapshot threshold: the survivor holds a snapshot plus a log tail, and both count.
    const common = ['--snapshot-entries', '40', '--request-timeout-ms', '3000'];
    await Promise.all(founders.map((id) => n!.start(id, ['--cluster', clusterArg, ...common])));
    const leader = await n.waitLeader(founders);
    const survivor = founders.find((id) => id !== leader) as string;
    const lost = founders.filter((id) => id !== survivor);

    const client = new KvClient({ endpoints: founders.map((id) => n!.url(id)), timeoutMs: 15_000 });
    const want = new Map<string, string>();
    for (let i = 0; i < 120; i++) {
      const key = `k${i % 45}`;
      await client.put(key, `v${i}`);
      want.set(key, `v${i}`);
    }
    await client.delete('k7');
    want.delete('k7');
    await client.cas('k8', want.get('k8') as string, 'swapped');
    want.set('k8', 'swapped');

    // Every acknowledged write has reached the survivor (the ones that had not are the
    // documented loss), then the leader and the other follower die for good.
    const commit = (await n.status(leader))?.commitIndex as number;
    await n.waitApplied(survivor, commit);
    for (const id of lost) await n.kill(id);

    // Alone, the survivor can no longer serve a linearizable read.
    const stuck = await http(`${n.url(survivor)}/kv/k1`);
    expect([503, 504]).toContain(stuck.status);

    await n.kill(survivor);
    const before = runKvapi(['inspect', '--data', n.dataDir(survivor), '--node', survivor]);
    expect(before.status, before.stderr).toBe(0);
    const b = before.json();
    expect((b.confState as { voters: string[] }).voters).toEqual(founders);
    expect(b.snapshotIndex as number).toBeGreaterThan(0);

    const rec = runKvapi(['recover', '--data', n.dataDir(survivor), '--node', survivor]);
    expect(rec.status, rec.stderr).toBe(0);
    const r = rec.json();
    expect(r.removed).toEqual(lost);
    expect(r.index).toBe((b.lastIndex as number) + 1);
    expect(r.term as number).toBeGreaterThan(
      Math.max((b.hardState as { term: number }).term, b.lastTerm as number),
    );
    expect(r.keys).toBe(want.size);

    const after = runKvapi(['inspect', '--data', n.dataDir(survivor), '--node', survivor]).json();
    expect(after.confState).toMatchObject({ voters: [survivor], learners: [] });
    expect(after.knownIds).toEqual([survivor]);

    // The survivor restarts as a one-voter cluster and elects itself.
    await n.start(survivor, ['--cluster', n.clusterArg([survivor]), ...common]);
    expect(await n.waitLeader([survivor])).toBe(survivor);

    // Two fresh machines join through the admin routes and become voters.
    for (const id of ['3', '4']) {
      await n.start(id, ['--cluster', n.clusterArg([survivor, id]), '--join', ...common]);
      await n.addVoter(survivor, id);
    }
    const members = ['3', '4', survivor].sort();
    const ids = async (id: string): Promise<string[]> =>
      (((await n!.status(id))?.members ?? []) as { id: string }[]).map((m) => m.id).sort();
    await expect.poll(() => ids('3'), { timeout: 15_000 }).toEqual(members);
    await expect.poll(() => ids('4'), { timeout: 15_000 }).toEqual(members);

    // Every write acknowledged before the loss reads back (linearizable) from the new nodes...
    const fresh = new KvClient({ endpoints: [n.url('3'), n.url('4')], timeoutMs: 15_000 });
    for (const [k, v] of want) expect(await fresh.get(k), k).toBe(v);
    expect(await fresh.get('k7')).toBeUndefined();
    await fresh.put('after-recovery', 'yes');

    // ...and the new nodes hold the data themselves: without the survivor they still have a
    // quorum (2 of 3) and serve it.
    await n.kill(survivor);
    await n.waitLeader(['3', '4']);
    for (const [k, v] of want) expect(await fresh.get(k), k).toBe(v);
    expect(await fresh.get('after-recovery')).toBe('yes');
  });

  it('refuses a running node, a missing directory and a bad command line', async () => {
    n = new Nodes();
    await n.allocate(['a']);
    await n.start('a', ['--cluster', n.clusterArg(['a'])]);
    await n.waitLeader(['a']);
    // The process's exit status for a failure, once; the other refusals in-process (same code).
    const busy = runKvapi(['recover', '--data', n.dataDir('a'), '--node', 'a']);
    expect(busy.status).toBe(1);
    expect(busy.stderr).toMatch(/in use: stop the kvapi process/);

    await expect(runTool(['recover', '--data', n.dataDir('nope'), '--node', 'a'])).rejects.toThrow(
      /does not exist/,
    );
    await n.kill('a');
    await expect(runTool(['recover', '--data', n.dataDir('a'), '--node', 'b'])).rejects.toThrow(
      /cannot open/,
    );

    const usage = runKvapi(['recover', '--data', n.dataDir('a')]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--node is required/);
  });
});
