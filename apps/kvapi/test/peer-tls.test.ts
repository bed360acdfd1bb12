import { KvClient } from 'raft-kv';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../src/cli.js';
import { http, sleep } from './support/cluster.js';
import { Nodes } from './support/nodes.js';
import { hasOpenssl, makePkiFiles, type PkiFiles } from './support/pki.js';

let n: Nodes | undefined;
let pki: PkiFiles | undefined;

/** Authenticated outbound peer connections of `id`, from its /status. */
async function outbound(id: string): Promise<number | undefined> {
  const s = await n?.status(id);
  return (s?.transport as { outboundConnections?: number } | undefined)?.outboundConnections;
}

afterEach(async () => {
  await n?.destroy();
  n = undefined;
  pki?.cleanup();
  pki = undefined;
});

describe('kvapi peer links over mutual TLS', () => {
  it('--peer-tls-* come as a set of three', () => {
    const base = ['--node', 'a', '--http', ':2020', '--cluster', 'a,:2020'];
    expect(() => parseCli([...base, '--peer-tls-cert', 'c.pem'], {})).toThrow(UsageError);
    expect(() => parseCli([...base, '--peer-tls-cert', 'c.pem'], {})).toThrow(/go together/);
    const ok = parseCli(
      [...base, '--peer-tls-cert', 'c', '--peer-tls-key', 'k', '--peer-tls-ca', 'ca'],
      {},
    );
    expect(ok).toMatchObject({ peerTls: { cert: 'c', key: 'k', ca: 'ca' } });
  });

  it.skipIf(!hasOpenssl)(
    'members with certificates form the cluster; a member without TLS is cut off until it has one',
    async () => {
      pki = makePkiFiles();
      n = new Nodes();
      const ids = ['t1', 't2', 't3'];
      await n.allocate(ids);
      const cluster = ['--cluster', n.clusterArg(ids)];
      const tls = ['--peer-tls-cert', pki.cert, '--peer-tls-key', pki.key, '--peer-tls-ca', pki.ca];
      await n.start('t1', [...cluster, ...tls]);
      await n.start('t2', [...cluster, ...tls]);
      await n.start('t3', cluster); // plain ws: cannot talk to the wss members
      await n.waitLeader(['t1', 't2']);

      const client = new KvClient({ endpoints: [n.url('t1'), n.url('t2')], timeoutMs: 15_000 });
      await client.put('over', 'tls');
      expect(await outbound('t1')).toBeGreaterThan(0);
      await sleep(1000);
      expect(await outbound('t3')).toBe(0);
      expect((await http(`${n.url('t3')}/kv/over?consistency=stale`)).status).toBe(404);

      // Restarted with the certificate, t3 joins in and catches up.
      await n.kill('t3');
      await n.start('t3', [...cluster, ...tls]);
      const commit = (await n.status(await n.waitLeader(['t1', 't2'])))?.commitIndex as number;
      await n.waitApplied('t3', commit);
      expect((await http(`${n.url('t3')}/kv/over?consistency=stale`)).body).toBe('tls');
    },
  );

  it('a node whose certificate file is missing does not start', async () => {
    n = new Nodes();
    await n.allocate(['x']);
    const missing = [
      '--peer-tls-cert',
      '/nonexistent/c.pem',
      '--peer-tls-key',
      '/nonexistent/k.pem',
    ];
    await expect(
      n.start('x', [
        '--cluster',
        n.clusterArg(['x']),
        ...missing,
        '--peer-tls-ca',
        '/nonexistent/ca.pem',
      ]),
    ).rejects.toThrow(/--peer-tls-cert \/nonexistent\/c\.pem/);
  });
});
