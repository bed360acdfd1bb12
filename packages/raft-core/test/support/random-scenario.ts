import { Rng } from '../../src/testing/rng.js';
import { SimCluster } from '../../src/testing/sim-cluster.js';
import type { NodeId } from '../../src/types.js';
import { KvClients } from './kv-clients.js';

/** What one randomized run did (for reporting). */
export interface ScenarioReport {
  seed: number;
  nodes: number;
  steps: number;
  acked: number;
  faults: number;
  simulatedMs: number;
  /** Appends sent by the leader-resend fault. */
  leaderResends: number;
  kvOps: number;
  features: string[];
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
export async function runRandomScenario(
  seed: number,
  durationMs = 6000,
  variant: { readonly stageSnapshotMs?: readonly [number, number] } = {},
): Promise<ScenarioReport> {
  const rng = new Rng(seed);
  const nodes = rng.pick([3, 3, 5]);
  const preVote = rng.chance(0.8);
  const checkQuorum = rng.chance(0.8);
  const snapshots = rng.chance(0.6);
  const membership = rng.chance(0.5);
  const transfers = rng.chance(0.5);
  const lease = checkQuorum && rng.chance(0.45);
  const features = [
    preVote ? 'prevote' : '',
    checkQuorum ? 'checkquorum' : '',
    snapshots ? 'snapshots' : '',
    membership ? 'membership' : '',
    transfers ? 'transfers' : '',
    lease ? 'lease' : 'readindex',
  ].filter((f) => f !== '');
  const c = await SimCluster.create({
    seed,
    nodes,
    preVote,
    checkQuorum,
    snapshotEntries: snapshots ? rng.pick([10, 25, 60]) : 0,
    snapshotKeepEntries: rng.pick([0, 3, 20]),
    snapshotBytes: snapshots ? rng.pick([0, 0, 400]) : 0,
    snapshotChunkSize: rng.pick([16, 100, 4096]),
    readOnly: lease ? 'lease' : 'safe',
    maxInflightMsgs: rng.pick([1, 4, 256]),
    // 64 B carries one entry per MsgApp, so a leader's no-op can trail the older entries it
    // follows: the ingredient of Figure 8 (§5.4.2).
    maxSizePerMsg: rng.pick([64, 64, 4096, 1 << 20]),
    fsyncMs: [0.1, rng.float(0.5, 8)],
    // Adversarial completions: slow disks and an asynchronous state machine keep a Ready in
    // flight while messages (votes, appends, snapshots) are stepped into the core.
    fsyncStallRate: rng.pick([0, 0.02, 0.1]),
    adversarialCompletionRate: rng.pick([0, 0.3, 0.8]),
    inFlightSurvivesPartition: rng.chance(0.5),
    fsyncStallMs: [10, rng.pick([100, 400])],
    ...(variant.stageSnapshotMs !== undefined && { stageSnapshotMs: variant.stageSnapshotMs }),
    ...(rng.chance(0.5) && { stateMachineDelayMs: [0, rng.pick([2, 20, 80])] as const }),
    network: {
      minDelayMs: 0.5,
      maxDelayMs: rng.float(2, 30),
      dropRate: rng.pick([0, 0.02, 0.1]),
      duplicateRate: rng.pick([0, 0.02, 0.05]),
      reorderRate: rng.pick([0, 0.05, 0.1]),
      // Sometimes longer than an election timeout (300–600 ms): very late messages.
      reorderDelayMs: rng.pick([200, 200, 900]),
    },
    // Leader resends: appends a leader could legitimately send but its own backtracking never
    // does (from below the match point, retransmissions, prefixes), so that the follower's
    // AppendEntries rule is checked against any leader, not only against this one.
    leaderResendMs: rng.pick([
      [20, 150],
      [50, 300],
    ] as const),
    // A quarter of them send the leader's snapshot instead: a follower must take one at any
    // moment, also while its own write of older committed configuration changes is in flight.
    leaderResendSnapshotRate: 0.25,
  });
  const acked: { data: Uint8Array; index: number }[] = [];
  let faults = 0;
  let stopClients = false;
  const kv = new KvClients(c, rng.fork(), {
    clients: rng.int(2, 5),
    keys: ['a', 'b', 'c'],
    thinkMs: [1, 30],
  });
  const removed = new Set<NodeId>();
  const down = new Set<NodeId>();
  let spare = 0;
  try {
    kv.start();
    // Learner churn (with membership): a stream of real configuration changes — ghost learners
    // (ids with no process) added and removed — so ConfChange entries are common in every
    // window of the log, e.g. next to an InstallSnapshot. Ghost ids are never reused.
    let ghosts = 0;
    const churn = (): void => {
      if (stopClients || !membership) return;
      const l = c.leader();
      const m = c.members();
      if (l !== null && m !== null && m.votersOutgoing.length === 0) {
        const ghost = m.learners.find((id) => id.startsWith('g'));
        const p =
          ghost !== undefined && rng.chance(0.6)
            ? c.node(l).removeNode(ghost)
            : c.node(l).addLearner(`g${seed}-${ghosts++}`);
        c.track(p, 'learner churn').catch(() => {});
      }
      c.schedule(rng.int(40, 200), churn);
    };
    c.schedule(rng.int(0, 100), churn);
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
      c.schedule(rng.int(5, 40), client);
    };
    c.schedule(0, client);

    // Membership changes: add a learner and promote it later, remove a voter (maybe the
    // leader), or replace one through joint consensus. Node ids are never reused for new nodes.
    const changeMembership = async (): Promise<void> => {
      const l = c.leader();
      const m = c.members();
      if (l === null || m === null || m.votersOutgoing.length > 0) return;
      const node = c.node(l);
      const voters = m.voters;
      const choice = rng.int(0, 3);
      const dbg = (msg: string): void => {
        if (process.env.SIM_DEBUG)
          console.log(`t=${c.now.toFixed(0)} leader=${l} ${msg} conf=${JSON.stringify(m)}`);
      };
      dbg(`membership choice ${choice}`);
      const ignore = (): void => {};
      const real = m.learners.filter((id) => c.ids.includes(id));
      if (choice === 0 && real.length > 0) {
        c.track(node.addVoter(rng.pick(real)), 'addVoter').catch(ignore);
      } else if (choice <= 1 && voters.length + real.length < 6) {
        const id = `x${seed}-${spare++}`;
        await c.addNode(id);
        c.track(node.addLearner(id), 'addLearner').catch(ignore);
      } else if (choice === 2 && voters.length > 3) {
        const victim = rng.pick(voters);
        c.track(node.removeNode(victim), 'removeNode').then(() => removed.add(victim), ignore);
      } else if (voters.length >= 3) {
        const id = `x${seed}-${spare++}`;
        await c.addNode(id);
        const victim = rng.pick(voters);
        c.track(
          node.changeMembership({
            changes: [
              { op: 'addVoter', node: id },
              { op: 'removeNode', node: victim },
            ],
          }),
          'replace',
        ).then(() => removed.add(victim), ignore);
      }
      // Leader churn around a configuration change: the leader vanishes while the change (or
      // the joint configuration's second step) is replicated, committed or applied, so the next
      // election runs on nodes whose logs and applied configurations disagree.
      if (choice >= 2 && rng.chance(0.5)) {
        await c.run(rng.int(5, 200));
        const now = c.leader();
        const how = rng.int(0, 2);
        if (how === 2) {
          // Any split, removed members included: a lagging node may campaign with the help of
          // a member the change removed while the new majority goes on committing.
          const shuffled = rng.shuffle(c.ids.filter((id) => c.isAlive(id)));
          const cut = rng.int(1, Math.max(1, shuffled.length - 1));
          c.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        } else if (now !== null && c.isAlive(now)) {
          if (how === 0) {
            c.crash(now);
            down.add(now);
          } else c.disconnect(now);
        }
      }
    };

    // A client that cached a node keeps reading from it for a while (e.g. a deposed or
    // isolated leader): every such read is checked for freshness by the simulator.
    const staleReader = (at: NodeId, count: number, spanMs: number): void => {
      for (let i = 0; i < count; i++)
        c.schedule(rng.int(0, spanMs), () => {
          if (c.isAlive(at)) void c.get(at, rng.pick(['a', 'b', 'c']));
        });
    };

    // Nemesis.
    const end = c.now + durationMs;
    while (c.now < end) {
      await c.run(rng.int(20, 600));
      faults++;
      const action = rng.int(0, 19);
      const victim = rng.pick(c.ids);
      if (process.env.SIM_DEBUG)
        console.log(`t=${c.now.toFixed(0)} action ${action} victim ${victim} leader=${c.leader()}`);
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
        case 10:
        case 11:
          if (transfers && rng.chance(0.5)) {
            const l = c.leader();
            const voters = c.members()?.voters.filter((id) => id !== l) ?? [];
            if (l !== null && voters.length > 0)
              void c
                .track(c.node(l).transferLeadership(rng.pick(voters)), 'transfer')
                .catch(() => {});
            break;
          }
          if (membership) await changeMembership();
          else c.heal();
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
        case 12: {
          // Bounce (sometimes a crash loop): crash and restart at once, so messages sent before
          // the crash — and late answers to them — arrive at a new incarnation.
          if (c.isAlive(victim) && !removed.has(victim)) {
            const l = c.leader();
            if (l !== null && l !== victim && rng.chance(0.5)) {
              const kind = rng.pick([
                'MsgReadIndexResp',
                'MsgReadIndexResp',
                'MsgAppResp',
                'MsgApp',
                'MsgSnap',
              ] as const);
              c.slowLink(l, victim, rng.int(50, 600), [kind]);
            }
            for (let i = rng.int(1, 3); i > 0; i--) {
              c.crash(victim);
              await c.run(rng.int(0, 30));
              await c.restart(victim);
              await c.run(rng.int(5, 250));
            }
            down.delete(victim);
          }
          break;
        }
        case 13: {
          // A slow link, longer than an election timeout (late votes, late MsgTimeoutNow, late
          // read answers), often next to the leader.
          const l = c.leader();
          const from = l !== null && rng.chance(0.6) ? l : victim;
          const to = rng.pick(c.ids.filter((id) => id !== from));
          // Sometimes only one kind of message is late (the rest of the link is healthy).
          const types = rng.chance(0.5)
            ? [
                rng.pick([
                  'MsgTimeoutNow',
                  'MsgReadIndexResp',
                  'MsgReadIndex',
                  'MsgVoteResp',
                  'MsgAppResp',
                  'MsgSnap',
                  'MsgHeartbeatResp',
                ] as const),
              ]
            : undefined;
          if (rng.chance(0.5)) c.slowLink(from, to, rng.int(300, 1500), types);
          else c.slowLink(to, from, rng.int(300, 1500), types);
          break;
        }
        case 14: {
          // Cut the leader off for a while — fully, or only its incoming side (it still sends,
          // hears nobody): it may still believe it leads (and serve reads) while the others
          // elect a new leader and commit.
          const l = c.leader();
          if (l !== null && rng.chance(0.5)) c.disconnect(l);
          else if (l !== null) for (const id of c.ids) if (id !== l) c.blockOneWay(id, l);
          if (l !== null) staleReader(l, rng.int(2, 8), 600);
          break;
        }
        case 18:
        case 19: {
          // A leadership transfer in a bad network: one kind of message from the leader to the
          // target is late (longer than an election timeout), and a moment later the leader may
          // stop hearing anyone.
          const l = c.leader();
          const voters = c.members()?.voters.filter((id) => id !== l && c.isAlive(id)) ?? [];
          if (l === null || voters.length === 0 || !transfers) break;
          // To the most up-to-date voter, as an operator (or a stopping leader) would: a
          // lagging target is brought up to date first and may never get MsgTimeoutNow.
          const pr = c.node(l)._raw.raft.tracker.progress;
          const t = voters.reduce((a, b) =>
            (pr.get(b)?.match ?? 0) > (pr.get(a)?.match ?? 0) ? b : a,
          );
          // The late message arrives around the time the transfer gives up (an election
          // timeout, 300–600 ms here), and the leader goes deaf around then too.
          const kind = rng.pick([
            'MsgTimeoutNow',
            'MsgTimeoutNow',
            'MsgTimeoutNow',
            'MsgApp',
          ] as const);
          const deafAfter = rng.int(250, 400);
          // Start once the target looks caught up (it may lag again by the time it matters).
          const raftL = c.node(l)._raw.raft;
          await c.runUntil(
            () =>
              !c.isAlive(l) ||
              raftL.role !== 'leader' ||
              (raftL.tracker.progress.get(t)?.match ?? 0) >= raftL.log.lastIndex(),
            300,
          );
          if (!c.isAlive(l) || raftL.role !== 'leader') break;
          c.slowLink(l, t, deafAfter + rng.int(10, 150), [kind]);
          void c.track(c.node(l).transferLeadership(t), 'transfer').catch(() => {});
          await c.run(deafAfter);
          if (rng.chance(0.2)) c.disconnect(l);
          else if (rng.chance(0.8)) for (const id of c.ids) if (id !== l) c.blockOneWay(id, l);
          staleReader(l, rng.int(2, 8), 600);
          break;
        }
        case 15: {
          // Crash the newest leader soon after it is elected (Figure 8 needs leaders that
          // replicate old entries, then vanish before their own entries spread).
          const l = c.leader();
          if (l !== null) {
            await c.run(rng.int(0, 40));
            if (c.isAlive(l)) {
              c.crash(l);
              down.add(l);
            }
          }
          break;
        }
        case 16:
        case 17:
          if (membership) await changeMembership();
          else c.heal();
          break;
        default:
          c.heal();
          break;
      }
    }

    // Heal everything; the cluster must recover and agree. Removed nodes are shut down, as an
    // operator would (a removed node that never learned of its removal can disrupt elections,
    // thesis §4.2.3).
    kv.stop();
    c.heal();
    c.setNetwork({ dropRate: 0, duplicateRate: 0, reorderRate: 0, maxDelayMs: 5 });
    for (const id of c.ids) if (!c.isAlive(id) && !removed.has(id)) await c.restart(id);
    for (const id of removed) c.crash(id);
    stopClients = true;
    const live = () => c.ids.filter((id) => c.isAlive(id));
    await c.waitForLeader(live(), 10_000);
    // Let a pending joint configuration be left; then nodes outside the final configuration are
    // shut down and every member must apply a final command.
    const settled = (): boolean => {
      const l = c.leader(live());
      if (l === null) return false;
      const r = c.node(l)._raw.raft;
      return r.pendingConfIndex <= r.log.applied && !r.tracker.config.voters.isJoint;
    };
    await c.runUntil(settled, 10_000);
    const m = c.members();
    const members = (m === null ? live() : [...m.voters, ...m.learners]).filter((id) =>
      c.ids.includes(id),
    );
    if (process.env.SIM_DEBUG) {
      console.log(
        `final: leader=${c.leader(live())} members=${JSON.stringify(m)} removed=${[...removed]}`,
      );
    }
    for (const id of c.ids) if (!members.includes(id)) c.crash(id);
    for (const id of members) if (!c.isAlive(id)) await c.restart(id);
    await c.waitForLeader(members, 10_000);
    const last = await c.one(enc(`s${seed}-final`), members.length, true, 20_000);
    await c.runUntil(() => members.every((id) => c.appliedIndex(id) >= last), 5000);
    c.checkNoLostProposals();
    // Read liveness on a fair-lossy network: with 4% loss and a stable leader, every
    // linearizable read must complete (requests and rounds are retried; six tries fail together
    // with odds below 1e-6). A read may fail only if the leadership changed while it waited.
    // Reads are spaced wider than the read timeout, so no read's round completes another's.
    c.setNetwork({ dropRate: 0.04 });
    const probes: Promise<void>[] = [];
    const stuck: string[] = [];
    for (let i = 0; i < 12; i++) {
      const at = rng.pick(members);
      const l0 = c.leader(members);
      const t0 = l0 === null ? -1 : c.termOf(l0);
      probes.push(
        c.get(at, 'a').then((r) => {
          if (r.ok || !c.isAlive(at)) return;
          const l1 = c.leader(members);
          const code = (r.error as { code?: string }).code;
          if (l1 === l0 && l1 !== null && c.termOf(l1) === t0 && code === 'Timeout')
            stuck.push(`a read at ${at} timed out with a stable leader ${l1} (4% loss)`);
        }),
      );
      await c.run(rng.int(650, 800));
    }
    await c.run(1500);
    await Promise.all(probes);
    if (stuck.length > 0) throw new Error(stuck.join('; '));
    c.setNetwork({ dropRate: 0 });
    // Every promise handed out must settle within a bound once the cluster is healed: run past
    // the longest driver timeout (proposals: 5 election timeouts) and check.
    await c.run(2500);
    c.checkAllSettled();
    for (const a of acked) {
      const got = c.nCommitted(a.index);
      if (got.data === null || dec(got.data) !== dec(a.data)) {
        throw new Error(
          `acknowledged proposal ${dec(a.data)} at index ${a.index} is not in the final log`,
        );
      }
    }
    const lin = kv.check();
    if (!lin.ok)
      throw new Error(`history is not linearizable (${features.join(', ')}):\n${lin.message}`);
    return {
      seed,
      nodes,
      steps: c.stats.steps,
      acked: acked.length,
      faults,
      simulatedMs: c.now,
      leaderResends: c.stats.leaderResends,
      kvOps: lin.ops,
      features,
    };
  } catch (e) {
    if (process.env.SIM_DEBUG) {
      const n5 = c.ids.includes('n5') && c.isAlive('n5') ? c.node('n5')._raw.raft : null;
      console.log(
        'n5 conf',
        JSON.stringify(
          n5?.tracker.config.voters.incoming.ids
            ? [...n5.tracker.config.voters.incoming.ids]
            : null,
        ),
        JSON.stringify(n5 ? [...n5.tracker.config.voters.outgoing.ids] : null),
        'n5 lead',
        n5?.lead,
        'stats',
        JSON.stringify(c.stats.byType),
      );
    }
    if (process.env.SIM_DEBUG) console.log(features.join(','), '\n', c.describeState());
    throw c.annotate(e);
  } finally {
    c.stop();
  }
}
