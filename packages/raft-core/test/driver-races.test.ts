/**
 * Regression tests for the driver and read-path bugs of the adversarial review (issue 8), plus
 * the election-configuration bug the simulator's commit safety check found afterwards. Each test
 * fails without its fix. The randomized simulation finds each of them by itself too: see
 * `scripts/mutations.mts` (`pnpm --filter raft-core mutations`) and docs/testing.md.
 */
import { describe, expect, it } from 'vitest';
import { ProposalTracker } from '../src/driver/proposals.js';
import { ReadTracker } from '../src/driver/reads.js';
import { RaftError } from '../src/errors.js';
import { leaseValid } from '../src/read-index.js';
import { restore } from '../src/snapshot-transfer.js';
import { checkOperations } from '../src/testing/linearizability/checker.js';
import { type KvOperation, kvModel } from '../src/testing/linearizability/kv-model.js';
import { Rng } from '../src/testing/rng.js';
import { encodeKvCommand, SimCluster } from '../src/testing/sim-cluster.js';
import { confStateFromConfig } from '../src/tracker/progress-tracker.js';
import type { ConfState, Entry, NodeId } from '../src/types.js';
import { newRaft, PAPER } from './support/network.js';
import { withCluster } from './support/sim-helpers.js';

const SEED = Number(process.env.SEED ?? 8_0001);

function conf(voters: string[]): ConfState {
  return { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** Runs the simulation until `p` settles; returns its outcome and when. */
async function settle<T>(
  c: SimCluster,
  p: Promise<T>,
  ms = 5000,
): Promise<{ ok: boolean; value?: T; error?: unknown; at: number }> {
  let out: { ok: boolean; value?: T; error?: unknown; at: number } | null = null;
  p.then(
    (value) => {
      out = { ok: true, value, at: c.now };
    },
    (error: unknown) => {
      out = { ok: false, error, at: c.now };
    },
  );
  await c.runUntil(() => out !== null, ms);
  if (out === null) throw new Error(`promise did not settle within ${ms} ms`);
  return out;
}

async function put(c: SimCluster, id: NodeId, value: string): Promise<KvOperation> {
  const call = c.now;
  const r = await settle(c, c.propose(id, encodeKvCommand({ op: 'put', key: 'k', value })));
  const v = r.value as { ok: boolean } | undefined;
  if (!v?.ok) throw new Error(`put ${value} at ${id} failed`);
  return { clientId: 9, input: { op: 'put', key: 'k', value }, output: 'ok', call, return: c.now };
}

describe('bug 1: a snapshot installed while an older Ready is being handled', () => {
  it('older ConfChange entries applied afterwards do not change the configuration', () => {
    const r = newRaft('1', PAPER);
    const snap = {
      meta: { index: 10, term: 1, confState: conf(['1', '2', '3']) },
      data: new Uint8Array(),
    };
    expect(restore(r, snap)).toBe(true);
    // The Ready handed out before the snapshot still holds "remove 3" at index 5.
    r.applyConfChange({ changes: [{ op: 'removeNode', node: '3' }] }, 5);
    expect(confStateFromConfig(r.tracker.config).voters).toEqual(['1', '2', '3']);
    // A newer change still applies.
    r.applyConfChange({ changes: [{ op: 'removeNode', node: '3' }] }, 11);
    expect(confStateFromConfig(r.tracker.config).voters).toEqual(['1', '2']);
  });
});

describe('bug 2: lease reads after an aborted leadership transfer', () => {
  it('a leader that sent MsgTimeoutNow serves no lease read for the rest of its term', async () => {
    const c = await SimCluster.create({ seed: SEED, readOnly: 'lease' });
    await withCluster(c, async () => {
      const leader = await c.waitForLeader();
      const history: KvOperation[] = [await put(c, leader, 'old')];
      await c.run(250);
      const r = c.node(leader)._raw.raft;
      expect(leaseValid(r)).toBe(true);
      const [target, third] = c.ids.filter((id) => id !== leader) as [NodeId, NodeId];
      // MsgTimeoutNow travels slower than an election timeout: the transfer aborts first.
      c.slowLink(leader, target, 450, ['MsgTimeoutNow']);
      void c
        .node(leader)
        .transferLeadership(target)
        .catch(() => {});
      await c.run(400);
      expect(r.leadTransferee).toBeNull(); // aborted
      // The leader hears nobody from now on, but its messages still go out.
      c.blockOneWay(target, leader);
      c.blockOneWay(third, leader);
      let reading = true;
      const read = (): void => {
        if (!reading) return;
        const call = c.now;
        void c.get(leader, 'k').then((g) => {
          if (!g.ok) return;
          history.push({
            clientId: 1,
            input: { op: 'get', key: 'k' },
            output: g.value,
            call,
            return: c.now,
          });
        });
        c.schedule(5, read);
      };
      c.schedule(0, read);
      // The late MsgTimeoutNow makes the target campaign past the followers' leases.
      const next = await c.waitForLeader([target, third], 2000);
      expect(next).toBe(target);
      history.push(await put(c, target, 'new'));
      await c.run(300);
      reading = false;
      await c.run(200);
      expect(checkOperations(kvModel, history).result).toBe('ok');
    });
  });
});

describe('bug 3: ReadIndex rounds are retried', () => {
  it('a read whose own heartbeat round was lost completes with the next heartbeat', async () => {
    const c = await SimCluster.create({ seed: SEED + 3 });
    await withCluster(c, async () => {
      const leader = await c.waitForLeader();
      await put(c, leader, 'v');
      const followers = c.ids.filter((id) => id !== leader);
      for (const f of followers) c.blockOneWay(leader, f);
      const p = c.get(leader, 'k');
      await c.run(20); // the round's heartbeats are lost
      c.heal();
      const healedAt = c.now;
      const r = await settle(c, p, 2000);
      // Without retries the read would end with Timeout after 600 ms (2 election timeouts);
      // periodic heartbeats (every 100 ms) carry the pending round and complete it.
      expect(r.value).toEqual({ ok: true, value: 'v' });
      expect(r.at - healedAt).toBeLessThan(250);
    });
  });
});

describe('reads waiting for their index to be applied', () => {
  it('time out like reads waiting for their index', async () => {
    const c = await SimCluster.create({ seed: SEED + 10 });
    await withCluster(c, async () => {
      const leader = await c.waitForLeader();
      await put(c, leader, 'v0');
      const f = c.ids.find((id) => id !== leader) as NodeId;
      // f learns new commits (appends, heartbeats) 1.5 s late, but gets read answers at once:
      // its read index is known long before it is applied.
      c.slowLink(leader, f, 1500, ['MsgApp', 'MsgHeartbeat']);
      await put(c, leader, 'v1');
      const start = c.now;
      const r = await settle(c, c.get(f, 'k'), 5000);
      const g = r.value as { ok: boolean; error?: unknown };
      expect(g.ok).toBe(false);
      expect(RaftError.isInstance(g.error) && g.error.code).toBe('Timeout');
      expect(r.at - start).toBeLessThan(1000); // the 600 ms read timeout, not the 1.5 s lag
      c.heal();
      await c.run(2000);
    });
  });
});

describe('bug 4: read contexts are unique across restarts', () => {
  it('two incarnations of a node never reuse a context', () => {
    const seen = new Set<number>();
    for (let incarnation = 0; incarnation < 50; incarnation++) {
      const rng = new Rng(incarnation + 1);
      const t = new ReadTracker(() => rng.next());
      for (let i = 0; i < 20; i++) {
        const ctx = t.add(
          100,
          () => {},
          () => {},
        );
        expect(ctx).not.toBeNull();
        t.submitted(ctx as number, 0);
        expect(seen.has(ctx as number), `context ${ctx} reused`).toBe(false);
        seen.add(ctx as number);
      }
    }
  });

  it('an answer to a read of an earlier incarnation does not serve a new read', async () => {
    const c = await SimCluster.create({ seed: SEED + 4 });
    await withCluster(c, async () => {
      const leader = await c.waitForLeader();
      const history: KvOperation[] = [await put(c, leader, 'old')];
      const f = c.ids.find((id) => id !== leader) as NodeId;
      await c.run(100);
      // The follower's first read; the leader's answer (and everything else to f) is slow.
      c.slowLink(leader, f, 300);
      void c.get(f, 'k');
      await c.run(30);
      c.crash(f);
      await c.restart(f);
      history.push(await put(c, leader, 'new'));
      // The new incarnation's first read: the delayed answer to the old one arrives first.
      const call = c.now;
      const r = await settle(c, c.get(f, 'k'), 3000);
      const g = r.value as { ok: boolean; value: string | null };
      if (g?.ok)
        history.push({
          clientId: 1,
          input: { op: 'get', key: 'k' },
          output: g.value,
          call,
          return: r.at,
        });
      expect(checkOperations(kvModel, history).result).toBe('ok');
    });
  });
});

describe('bug 5: a proposal promise at a reused index', () => {
  it('is rejected ProposalDropped when a new proposal takes its index', async () => {
    const t = new ProposalTracker<string>();
    const first = t.add(7, 2, 100);
    const second = t.add(7, 4, 100);
    await expect(first).rejects.toMatchObject({ code: 'ProposalDropped' });
    t.applied({ index: 7, term: 4, type: 0, data: new Uint8Array() } as Entry, 'ok');
    await expect(second).resolves.toBe('ok');
  });
});

describe('bug 6: a local snapshot records the configuration at its own index', () => {
  it('a slow state machine snapshot does not pick up a later configuration', async () => {
    const c = await SimCluster.create({
      seed: SEED + 6,
      snapshotEntries: 5,
      stateMachineDelayMs: [50, 80],
      stateMachineAsyncRate: 1,
    });
    await withCluster(c, async () => {
      const leader = await c.waitForLeader();
      for (let i = 0; i < 4; i++) await put(c, leader, `v${i}`);
      await c.addNode('n4');
      // Membership changes land while snapshots are being serialized (50–80 ms each); the
      // simulator checks every saved snapshot's configuration against the log.
      await settle(c, c.node(leader).addLearner('n4'), 3000);
      for (let i = 4; i < 12; i++) await put(c, leader, `v${i}`);
      await settle(c, c.node(leader).addVoter('n4'), 3000);
      for (let i = 12; i < 20; i++) await put(c, leader, `v${i}`);
      await c.run(500);
    });
  });

  it('commits go on while a slow snapshot is taken and saved', async () => {
    const c = await SimCluster.create({
      seed: SEED + 16,
      snapshotEntries: 5,
      snapshotDelayMs: 2000,
    });
    await withCluster(c, async () => {
      const leader = await c.waitForLeader();
      const events: { index: number; installed: boolean }[] = [];
      c.node(leader).on('snapshot', (e) => events.push(e));
      const t0 = c.now;
      // Each put waits for the previous one. Serializing a snapshot takes 2 s here; if the loop
      // waited for it, the puts after the first snapshot would wait 2 s each time.
      for (let i = 0; i < 20; i++) await put(c, leader, `v${i}`);
      expect(c.now - t0).toBeLessThan(1500);
      // ...and the snapshots are still taken and saved in the background.
      await c.run(3000);
      expect(c.node(leader)._raw.raft.snapshot?.meta.index ?? 0).toBeGreaterThan(0);
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => !e.installed && e.index > 0)).toBe(true);
    });
  });
});

describe('bug 7: a node removed from the cluster settles its proposals', () => {
  it('proposals made after the removal entry reject with OutcomeUnknown', async () => {
    const c = await SimCluster.create({ seed: SEED + 7 });
    await withCluster(c, async () => {
      const leader = await c.waitForLeader();
      await put(c, leader, 'x');
      const removal = c.node(leader).removeNode(leader);
      const after = c.propose(leader, encodeKvCommand({ op: 'put', key: 'k', value: 'after' }));
      const r = await settle(c, removal, 3000);
      expect(r.ok).toBe(true);
      const a = await settle(c, after, 3000);
      const out = a.value as { ok: boolean; error?: unknown };
      expect(out.ok).toBe(false);
      expect(RaftError.isInstance(out.error) && out.error.code).toBe('OutcomeUnknown');
      c.crash(leader); // removed: shut down, as an operator would
    });
  });
});

describe('elections use the latest configuration in the candidate log', () => {
  it('a candidate whose log holds an unapplied joint change needs both quorums', () => {
    // Node 1 applied the configuration {1..5} but its log also holds entering and leaving a
    // joint configuration to {1,2,3,4,6}: under the newer configuration votes from 4 and 5
    // (the old voters) are not a quorum.
    const r = newRaft('1', { ...PAPER, peers: ['1', '2', '3', '4', '5'] });
    const enc = (cc: object) => new TextEncoder().encode(JSON.stringify(cc));
    r.log.append([
      {
        index: 1,
        term: 1,
        type: 1,
        data: enc({
          changes: [
            { op: 'addVoter', node: '6' },
            { op: 'removeNode', node: '5' },
          ],
          joint: true,
        }),
      },
      { index: 2, term: 1, type: 1, data: enc({ changes: [], joint: false }) },
    ]);
    r.hup('election');
    expect(r.role).toBe('candidate');
    const term = r.term;
    for (const from of ['4', '5'])
      r.step({ type: 'MsgVoteResp', from, to: '1', term, reject: false });
    expect(r.role).toBe('candidate');
    r.step({ type: 'MsgVoteResp', from: '2', to: '1', term, reject: false });
    expect(r.role).toBe('leader');
  });
});
