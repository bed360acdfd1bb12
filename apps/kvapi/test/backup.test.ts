import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvClient } from 'raft-kv';
import { afterEach, describe, expect, it } from 'vitest';
import { runTool } from '../src/tools.js';
import { http } from './support/cluster.js';
import { Nodes, runKvapi, runKvapiAsync, SECRET } from './support/nodes.js';

let n: Nodes | undefined;

afterEach(async () => {
  await n?.destroy();
  n = undefined;
});

describe('kvapi backup and restore', () => {
  it('backs up a running cluster under load and restores it into a new 3-node cluster', async () => {
    n = new Nodes();
    const old = ['0', '1', '2'];
    const fresh = ['a', 'b', 'c'];
    await n.allocate([...old, ...fresh]);
    const common = ['--snapshot-entries', '40'];
    await Promise.all(old.map((id) => n!.start(id, ['--cluster', n!.clusterArg(old), ...common])));
    const leader = await n.waitLeader(old);
    const follower = old.find((id) => id !== leader) as string;

    const client = new KvClient({ endpoints: old.map((id) => n!.url(id)), timeoutMs: 15_000 });
    const want = new Map<string, string>();
    for (let i = 0; i < 150; i++) {
      const key = `key/${i % 60}`;
      await client.put(key, `value ${i} ${'x'.repeat(i)}`);
      want.set(key, `value ${i} ${'x'.repeat(i)}`);
    }
    await client.delete('key/3');
    want.delete('key/3');

    // Writes keep going, one after the other, while the backup is taken from a follower.
    let stop = false;
    let acked = 0;
    let loadError: unknown;
    const load = (async () => {
      while (!stop) {
        await client.put(`load/${String(acked).padStart(6, '0')}`, 'L');
        acked++;
      }
    })().catch((e: unknown) => {
      loadError = e;
    });
    const until = Date.now() + 30_000;
    while (acked < 5 && loadError === undefined && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(loadError).toBeUndefined();
    expect(acked).toBeGreaterThanOrEqual(5);
    const out = join(n.dir, 'backups', 'cluster.backup');
    const ackedBefore = acked;
    const bk = await runKvapiAsync([
      'backup',
      '--from',
      n.httpAddress(follower),
      '--secret',
      SECRET,
      out,
    ]);
    const ackedAfter = acked;
    stop = true;
    await load;
    expect(loadError).toBeUndefined();
    expect(bk.status, bk.stderr).toBe(0);
    const header = JSON.parse(bk.stdout) as Record<string, unknown>;
    expect(header).toMatchObject({ format: 'kvapi-backup', node: follower, voters: old });
    expect(ackedAfter).toBeGreaterThan(ackedBefore);
    expect(readFileSync(out).subarray(0, 30).toString()).toMatch(/^\{"format":"kvapi-backup"/);

    // A stopped node can be backed up offline from its data directory too.
    const st = await n.status(follower);
    await n.kill(follower);
    const offOut = join(n.dir, 'backups', 'offline.backup');
    const off = runKvapi(['backup', '--data', n.dataDir(follower), '--node', follower, offOut]);
    expect(off.status, off.stderr).toBe(0);
    expect(off.json().index as number).toBeGreaterThanOrEqual(header.index as number);
    expect(off.json().index as number).toBeLessThanOrEqual(st?.lastIndex as number);

    // Restore: every member of the new cluster is seeded from the same file and --cluster.
    const list = n.clusterArg(fresh);
    for (const id of fresh) {
      const r = runKvapi([
        'restore',
        out,
        '--data',
        n.dataDir(id),
        '--node',
        id,
        '--cluster',
        list,
        '--cluster-id',
        'restored',
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({
        restored: true,
        voters: fresh,
        index: (header.index as number) + 1,
      });
    }
    const args = ['--cluster', list, '--cluster-id', 'restored', ...common];
    await Promise.all(fresh.map((id) => n!.start(id, args)));
    await n.waitLeader(fresh);

    const restored = new KvClient({ endpoints: fresh.map((id) => n!.url(id)), timeoutMs: 15_000 });
    for (const [k, v] of want) expect(await restored.get(k), k).toBe(v);
    expect(await restored.get('key/3')).toBeUndefined();
    // Point in time: the load writes in the backup are a gap-free prefix of the sequence that
    // holds at least every write acknowledged before the backup started.
    const loaded = (await restored.list('load/', { limit: 100_000 })).items;
    expect(loaded.map((i) => i.key)).toEqual(
      loaded.map((_, i) => `load/${String(i).padStart(6, '0')}`),
    );
    expect(loaded.length).toBeGreaterThanOrEqual(ackedBefore);
    expect(loaded.length).toBeLessThanOrEqual(ackedAfter + 1);
    await restored.put('after-restore', 'yes');
    expect(await restored.get('after-restore')).toBe('yes');
    // The new cluster knows only its own members.
    const s = await n.status('a');
    expect((s?.members as { id: string }[] | undefined)?.map((m) => m.id).sort()).toEqual(fresh);
    expect(s?.membersFromLog).toEqual({});
    // The old cluster (two nodes left, still a quorum) is untouched and separate.
    expect(await client.get('after-restore')).toBeUndefined();
  });

  it('refuses damaged files, non-empty directories and unreachable nodes', async () => {
    n = new Nodes();
    await n.allocate(['a', 'z']);
    await n.start('a', ['--cluster', n.clusterArg(['a'])]);
    await n.waitLeader(['a']);
    await http(`${n.url('a')}/kv/hello`, { method: 'PUT', body: 'world' });
    // /admin/backup is an admin route: it needs the cluster secret as a bearer token.
    const open = await http(`${n.url('a')}/admin/backup`);
    expect(open.status).toBe(401);
    const good = join(n.dir, 'good.backup');
    const refused = runKvapi(['backup', '--from', n.url('a'), good]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/answered 401/);
    // The remaining refusals run in-process (the same code as the subcommand's).
    await runTool(['backup', '--from', n.url('a'), '--secret', SECRET, good]);

    const file = readFileSync(good);
    const truncated = join(n.dir, 'truncated.backup');
    writeFileSync(truncated, file.subarray(0, file.length - 5));
    const flipped = join(n.dir, 'flipped.backup');
    const copy = Buffer.from(file);
    copy[copy.length - 3] = (copy[copy.length - 3] as number) ^ 0xff;
    writeFileSync(flipped, copy);
    const restoreTo = (input: string, id: string) =>
      runTool([
        'restore',
        input,
        '--data',
        n!.dataDir(id),
        '--node',
        id,
        '--cluster',
        n!.clusterArg([id]),
      ]);
    await expect(restoreTo(truncated, 'z')).rejects.toThrow(/truncated/);
    await expect(restoreTo(flipped, 'z')).rejects.toThrow(/checksum mismatch/);
    // A data directory in use (or any non-empty one) is never overwritten.
    await expect(restoreTo(good, 'a')).rejects.toThrow(/not empty/);
    expect(existsSync(n.dataDir('z'))).toBe(false);

    await n.kill('a');
    await expect(
      runTool([
        'backup',
        '--from',
        n.httpAddress('a'),
        '--secret',
        SECRET,
        join(n.dir, 'x.backup'),
      ]),
    ).rejects.toThrow(/cannot reach/);
  });
});
