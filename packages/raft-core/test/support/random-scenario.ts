import { Rng } from '../../src/testing/rng.js';
import { SimCluster } from '../../src/testing/sim-cluster.js';
import type { NodeId } from '../../src/types.js';

/** What one randomized run did (for reporting). */
export interface ScenarioReport {
  seed: number;
  nodes: number;
  steps: number;
  acked: number;
  faults: number;
  simulatedMs: number;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * One randomized simulation: a 3- or 5-node cluster under random message loss, duplication,
 * delay and reordering, with a nemesis that crashes, restarts, partitions (also one-way) and
 * isolates nodes, while clients keep proposing. Every step is checked against the safety
 * invariants. At the end the faults are healed and the run must make progress (liveness),
 * every acknowledged proposal must be in the final log at its index, and no proposal promise
 * may be left unsettled.
 */
export async function runRandomScenario(seed: number, durationMs = 6000): Promise<ScenarioReport> {
  const rng = new Rng(seed);
  const nodes = rng.pick([3, 3, 5]);
  const c = await SimCluster.create({
    seed,
    nodes,
    preVote: rng.chance(0.8),
    checkQuorum: rng.chance(0.8),
    maxInflightMsgs: rng.pick([1, 4, 256]),
    // 64 B carries one entry per MsgApp, so a leader's no-op can trail the older entries it
    // follows: the ingredient of Figure 8 (§5.4.2).
    maxSizePerMsg: rng.pick([64, 64, 4096, 1 << 20]),
    fsyncMs: [0.1, rng.float(0.5, 8)],
    network: {
      minDelayMs: 0.5,
      maxDelayMs: rng.float(2, 30),
      dropRate: rng.pick([0, 0.02, 0.1]),
      duplicateRate: rng.pick([0, 0.02]),
      reorderRate: rng.pick([0, 0.05]),
      reorderDelayMs: 200,
    },
  });
  const acked: { data: Uint8Array; index: number }[] = [];
  let faults = 0;
  let stopClients = false;
  try {
    // Clients: propose unique commands to a random live node, often to the believed leader.
    let n = 0;
    const client = (): void => {
      if (stopClients) return;
      const live = c.ids.filter((id) => c.isAlive(id));
      if (live.length > 0) {
        const leader = c.leader();
        const target = leader !== null && rng.chance(0.7) ? leader : rng.pick(live);
        const data = enc(`s${seed}-c${n++}`);
        void c.propose(target, data).then((r) => {
          if (r.ok) acked.push({ data, index: r.index });
        });
      }
      c.schedule(rng.int(1, 25), client);
    };
    c.schedule(0, client);

    // Nemesis.
    const down = new Set<NodeId>();
    const end = c.now + durationMs;
    while (c.now < end) {
      await c.run(rng.int(20, 600));
      faults++;
      const action = rng.int(0, 11);
      const victim = rng.pick(c.ids);
      switch (action) {
        case 0:
        case 1:
          if (c.isAlive(victim)) {
            c.crash(victim);
            down.add(victim);
          }
          break;
        case 2:
        case 3:
          for (const id of down) {
            if (rng.chance(0.7)) {
              await c.restart(id);
              down.delete(id);
            }
          }
          break;
        case 4: {
          const shuffled = rng.shuffle(c.ids);
          const cut = rng.int(1, c.ids.length - 1);
          c.partition(shuffled.slice(0, cut), shuffled.slice(cut));
          break;
        }
        case 5:
          c.blockOneWay(victim, rng.pick(c.ids.filter((id) => id !== victim)));
          break;
        case 6:
          c.disconnect(victim);
          break;
        case 7:
          c.setNetwork({ dropRate: rng.pick([0, 0.05, 0.2, 0.5]) });
          break;
        case 8:
        case 9: {
          // Crash the leader: leader churn is where most Raft bugs live.
          const l = c.leader();
          if (l !== null) {
            c.crash(l);
            down.add(l);
          }
          break;
        }
        default:
          c.heal();
          break;
      }
    }

    // Heal everything; the cluster must recover and agree.
    c.heal();
    c.setNetwork({ dropRate: 0, duplicateRate: 0, reorderRate: 0, maxDelayMs: 5 });
    for (const id of c.ids) if (!c.isAlive(id)) await c.restart(id);
    stopClients = true;
    await c.waitForLeader(c.ids, 10_000);
    const last = await c.one(enc(`s${seed}-final`), nodes, true, 20_000);
    await c.runUntil(() => c.ids.every((id) => c.appliedIndex(id) >= last), 5000);
    c.checkNoLostProposals();
    for (const a of acked) {
      const got = c.nCommitted(a.index);
      if (got.data === null || dec(got.data) !== dec(a.data)) {
        throw new Error(
          `acknowledged proposal ${dec(a.data)} at index ${a.index} is not in the final log`,
        );
      }
    }
    return { seed, nodes, steps: c.stats.steps, acked: acked.length, faults, simulatedMs: c.now };
  } catch (e) {
    if (process.env.SIM_DEBUG) console.log(c.describeState());
    throw c.annotate(e);
  } finally {
    c.stop();
  }
}
