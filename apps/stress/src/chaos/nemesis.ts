/**
 * The nemesis: a seeded schedule of fault episodes, one at a time — quiet for a while, then one
 * fault for a few seconds, then healed. Unless `majorityFaults`, an episode never takes down or
 * cuts off more than a minority of the voters (pauses and kills included; a node being removed
 * and re-added counts as one).
 */
import type { Rng } from 'raft-core/testing';
import type { Network } from './network.js';
import { type Nodes, sleep } from './nodes.js';

export const NEMESES = [
  'kill',
  'pause',
  'partition',
  'isolate',
  'bridge',
  'oneway',
  'slow',
  'transfer',
  'member',
  'combo',
] as const;
export type NemesisKind = (typeof NEMESES)[number];

export interface NemesisEnv {
  readonly nodes: Nodes;
  readonly net: Network;
  readonly rng: Rng;
  readonly kinds: readonly NemesisKind[];
  readonly majorityFaults: boolean;
  readonly log: (f: string, value: string) => void;
  readonly running: () => boolean;
}

/** Admin POST through any reachable node; resolves with the status and body. */
export async function admin(
  nodes: Nodes,
  rng: Rng,
  path: string,
  body: Record<string, string>,
  timeoutMs = 15_000,
): Promise<{ status: number; body: string }> {
  const end = Date.now() + timeoutMs;
  let last = { status: 0, body: 'no node answered' };
  while (Date.now() < end) {
    const up = nodes.upIds().filter((id) => !nodes.isPaused(id));
    if (up.length === 0) break;
    const id = rng.pick(up);
    try {
      const res = await fetch(`${nodes.url(id)}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${nodes.secret}`,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(6000),
      });
      last = { status: res.status, body: await res.text() };
      if (res.status < 500) return last;
    } catch (e) {
      last = { status: 0, body: String((e as Error).cause ?? e) };
    }
    await sleep(300);
  }
  return last;
}

export class Nemesis {
  /** Nodes removed from the configuration and not yet back as voters. */
  readonly removed = new Set<string>();

  constructor(private readonly e: NemesisEnv) {}

  private get maxFaulty(): number {
    const n = this.e.nodes.ids.length;
    return this.e.majorityFaults ? Math.floor(n / 2) + 1 : Math.floor((n - 1) / 2);
  }

  /** Runs episodes until `running()` turns false; always leaves everything healed. */
  async run(): Promise<number> {
    const { rng, running } = this.e;
    let episodes = 0;
    await this.quiet(rng.int(2000, 4000));
    while (running()) {
      const kind = rng.pick(this.e.kinds);
      try {
        await this.episode(kind);
      } finally {
        await this.healAll();
      }
      if (kind !== 'transfer') this.e.log('heal', kind);
      episodes++;
      await this.quiet(rng.int(1500, 4000));
    }
    return episodes;
  }

  private async quiet(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end && this.e.running()) await sleep(100);
  }

  private async leaderOr(): Promise<string | null> {
    return this.e.nodes.leader();
  }

  /** `k` victims, the leader first half of the time. */
  private async victims(k: number): Promise<string[]> {
    const { rng, nodes } = this.e;
    const leader = await this.leaderOr();
    const ids = rng.shuffle(nodes.ids);
    // Draw the coin even without a leader, so the schedule does not depend on timing.
    const preferLeader = rng.chance(0.5);
    if (leader !== null && preferLeader) {
      return [leader, ...ids.filter((id) => id !== leader)].slice(0, k);
    }
    return ids.slice(0, k);
  }

  private async episode(kind: NemesisKind): Promise<void> {
    const { rng, nodes, net, log } = this.e;
    const n = nodes.ids.length;
    const hold = rng.int(2000, 6000);
    switch (kind) {
      case 'kill': {
        const vs = await this.victims(rng.int(1, Math.max(1, this.maxFaulty)));
        log('kill', vs.join(','));
        await Promise.all(vs.map((id) => nodes.kill(id)));
        await this.quiet(hold);
        for (const id of vs) nodes.restart(id);
        log('restart', vs.join(','));
        await Promise.all(vs.map((id) => nodes.waitHttp(id).catch(() => {})));
        return;
      }
      case 'pause': {
        const vs = await this.victims(rng.int(1, Math.max(1, this.maxFaulty)));
        log('pause', vs.join(','));
        for (const id of vs) nodes.pause(id);
        await this.quiet(hold);
        for (const id of vs) nodes.resume(id);
        log('resume', vs.join(','));
        return;
      }
      case 'partition': {
        const ids = rng.shuffle(nodes.ids);
        const k = this.e.majorityFaults ? rng.int(1, n - 1) : Math.max(1, this.maxFaulty);
        const groups = [ids.slice(0, k), ids.slice(k)];
        const mode = rng.chance(0.5) ? 'cut' : 'drop';
        log('partition', `${groups.map((g) => g.join(',')).join(' | ')} (${mode})`);
        net.partition(groups, mode);
        await this.quiet(hold);
        return;
      }
      case 'isolate': {
        const [v] = await this.victims(1);
        const id = v as string;
        const mode = rng.chance(0.5) ? 'cut' : 'drop';
        log('isolate', `${id} (${mode})`);
        net.partition([[id], nodes.ids.filter((x) => x !== id)], mode);
        await this.quiet(hold);
        return;
      }
      case 'bridge': {
        // Two halves that cannot see each other, and one node that sees both.
        const ids = rng.shuffle(nodes.ids);
        const [bridge, ...rest] = ids;
        const half = Math.floor(rest.length / 2);
        const left = rest.slice(0, half);
        const right = rest.slice(half);
        log('bridge', `${left.join(',')} | ${right.join(',')} via ${bridge}`);
        for (const a of left) {
          for (const b of right) {
            net.flow(a, b, { mode: 'drop' });
            net.flow(b, a, { mode: 'drop' });
          }
        }
        await this.quiet(hold);
        return;
      }
      case 'oneway': {
        const [v] = await this.victims(1);
        const id = v as string;
        const others = nodes.ids.filter((x) => x !== id);
        const deaf = rng.chance(0.5);
        log('oneway', deaf ? `${id} hears nobody` : `nobody hears ${id}`);
        for (const o of others) {
          if (deaf) net.flow(o, id, { mode: 'drop' });
          else net.flow(id, o, { mode: 'drop' });
        }
        await this.quiet(hold);
        return;
      }
      case 'slow': {
        const ms = rng.int(20, 150);
        const jitterMs = rng.int(0, 50);
        log('slow', `every link +${ms} ms ±${jitterMs}`);
        for (const a of nodes.ids) {
          for (const b of nodes.ids) if (a !== b) net.flow(a, b, { mode: 'delay', ms, jitterMs });
        }
        await this.quiet(hold);
        return;
      }
      case 'transfer': {
        const leader = await this.leaderOr();
        const to = rng.pick(nodes.ids.filter((id) => id !== leader));
        const r = await admin(nodes, rng, '/admin/transfer', { id: to });
        log('transfer', `to ${to}: HTTP ${r.status}`);
        return;
      }
      case 'combo': {
        // One node at a time, faults stacked: cut off, then killed and restarted while still
        // cut off (it recovers from its log with no one to talk to), then slowed, then healed.
        const [v] = await this.victims(1);
        const id = v as string;
        const others = nodes.ids.filter((x) => x !== id);
        log('combo', `${id}: isolate, kill -9, restart isolated, slow links`);
        net.partition([[id], others], rng.chance(0.5) ? 'cut' : 'drop');
        await this.quiet(rng.int(500, 2000));
        await nodes.kill(id);
        await this.quiet(rng.int(500, 2000));
        nodes.restart(id);
        await nodes.waitHttp(id).catch(() => {});
        await this.quiet(rng.int(500, 2000));
        const ms = rng.int(20, 100);
        for (const o of others) {
          net.flow(id, o, { mode: 'delay', ms, jitterMs: ms });
          net.flow(o, id, { mode: 'delay', ms, jitterMs: ms });
        }
        await this.quiet(hold);
        return;
      }
      case 'member': {
        const [v] = await this.victims(1);
        const id = v as string;
        const r = await admin(nodes, rng, '/admin/remove', { id });
        log('remove', `${id}: HTTP ${r.status}`);
        if (r.status !== 200) return;
        this.removed.add(id);
        await this.quiet(hold);
        await this.readd(id);
        return;
      }
    }
  }

  /** Brings a removed node back: wiped, started with --join, added as learner, promoted. */
  async readd(id: string): Promise<boolean> {
    const { nodes, rng, log } = this.e;
    await nodes.wipeAndJoin(id);
    await nodes.waitHttp(id).catch(() => {});
    const add = await admin(nodes, rng, '/admin/learner', {
      id,
      peer: nodes.peerAddress(id),
      http: nodes.httpAddress(id),
    });
    log('add-learner', `${id}: HTTP ${add.status}`);
    if (add.status !== 200 && add.status !== 409) return false;
    // Let the learner catch up before it votes, or the promotion may stall a quorum.
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      const leader = await nodes.leader();
      const [ls, ms] = await Promise.all([
        leader === null ? null : nodes.status(leader),
        nodes.status(id),
      ]);
      if (ls !== null && ms !== null && ms.appliedIndex >= ls.commitIndex - 10) break;
      await sleep(200);
    }
    const p = await admin(nodes, rng, '/admin/promote', { id });
    log('promote', `${id}: HTTP ${p.status}`);
    if (p.status === 200) this.removed.delete(id);
    return p.status === 200;
  }

  /** Removes every network fault, resumes paused nodes, restarts killed ones. */
  async healAll(): Promise<void> {
    const { nodes, net } = this.e;
    net.heal();
    for (const id of nodes.ids) nodes.resume(id);
    const down = nodes.ids.filter((id) => !nodes.isUp(id));
    for (const id of down) nodes.restart(id);
    await Promise.all(down.map((id) => nodes.waitHttp(id).catch(() => {})));
  }
}
