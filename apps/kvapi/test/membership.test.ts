import { KvClient } from 'raft-kv';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_AUTH, http, ProcessCluster, sleep } from './support/cluster.js';

let c: ProcessCluster | undefined;

afterEach(async () => {
  await c?.destroy();
  c = undefined;
});

const post = (url: string, body: unknown) =>
  http(url, { method: 'POST', body: JSON.stringify(body), headers: ADMIN_AUTH });

async function until(what: string, f: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await f()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('membership through the admin routes', () => {
  it('adds a 4th node (learner, then voter), removes one, and survives restarting all', async () => {
    c = await ProcessCluster.start({ extraArgs: ['--snapshot-entries', '30'] });
    const client = new KvClient({ endpoints: c.urls(), timeoutMs: 15_000 });
    // Enough writes that the newcomer is caught up from a snapshot, not only the log.
    for (let i = 0; i < 80; i++) await client.put(`k${i % 20}`, `v${i}`);

    await c.addJoiner('3');
    const follower = c.ids.find((id) => id !== '3') as string;
    const add = await post(`${c.url(follower)}/admin/learner`, {
      id: '3',
      peer: c.peerAddress('3'),
      http: c.httpAddress('3'),
    });
    expect(add.status).toBe(200);
    expect(add.json().learners).toContain('3');
    const leader = await c.waitLeader(['0', '1', '2']);
    const leaderStatus = (await http(`${c.url(leader)}/status`)).json();
    await c.waitApplied('3', leaderStatus.commitIndex as number);
    expect((await http(`${c.url('3')}/kv/k19?consistency=stale`)).body).toBe('v79');

    const promote = await post(`${c.url('3')}/admin/promote`, { id: '3' });
    expect(promote.status).toBe(200);
    expect(promote.json().voters).toContain('3');
    await until('every node to see 4 voters', async () => {
      const sts = await Promise.all(c!.ids.map((id) => c!.status(id)));
      return sts.every(
        (s) =>
          (s?.members as { role: string }[] | undefined)?.filter((m) => m.role === 'voter')
            .length === 4,
      );
    });
    // The newcomer's addresses came from the log on every node.
    const s0 = (await http(`${c.url('0')}/status`)).json();
    expect(s0.membersFromLog).toMatchObject({ '3': { http: c.httpAddress('3') } });

    const victim = (await c.waitLeader()) === '1' ? '2' : '1';
    const remove = await post(`${c.url('3')}/admin/remove`, { id: victim });
    expect(remove.status).toBe(200);
    expect(remove.json().voters).not.toContain(victim);
    await c.kill(victim);
    const rest = c.ids.filter((id) => id !== victim);
    const client2 = new KvClient({ endpoints: c.urls(rest), timeoutMs: 15_000 });
    await client2.put('after-remove', 'yes');

    // Restart every remaining node: membership and data come back from disk.
    for (const id of rest) await c.kill(id);
    for (const id of rest) await c.restart(id);
    await c.waitLeader(rest);
    const client3 = new KvClient({ endpoints: c.urls(rest), timeoutMs: 15_000 });
    expect(await client3.get('after-remove')).toBe('yes');
    expect(await client3.get('k19')).toBe('v79');
    await client3.put('after-restart', 'yes');
    const st = (await http(`${c.url('3')}/status`)).json();
    expect((st.members as { id: string }[]).map((m) => m.id).sort()).toEqual(rest.sort());

    const transfer = await post(`${c.url('3')}/admin/transfer`, { id: '3' });
    expect(transfer.status).toBe(200);
    expect(await c.waitLeader(rest)).toBe('3');
  });
});
