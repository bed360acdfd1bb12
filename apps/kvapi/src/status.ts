/**
 * The JSON that `GET /status` answers and that `/events` streams as `status` events: one
 * schema, built in one place, so the dashboard and curl users read the same thing.
 */
import { parseMemberContext } from './members.js';
import type { StatusJson, StatusMember } from './schema.js';
import type { Ctx } from './writes.js';

export function buildStatus(ctx: Ctx): StatusJson {
  const { replica, config, metrics } = ctx;
  const { node, directory } = replica;
  const s = node.status();
  const cs = s.confState;
  const member = (id: string, role: 'voter' | 'learner'): StatusMember => {
    const m = directory.get(id);
    return { id, role, http: m?.http ?? null, peer: m?.peer ?? null };
  };
  const fromLog = replica.sm.members();
  return {
    id: s.id,
    role: s.role,
    term: s.term,
    leader: s.leader,
    leaderHttp: directory.httpOf(s.leader),
    commitIndex: s.commitIndex,
    appliedIndex: s.appliedIndex,
    lastIndex: s.lastIndex,
    snapshotIndex: s.snapshotIndex,
    members: [
      ...cs.voters.map((id) => member(id, 'voter')),
      ...cs.learners.map((id) => member(id, 'learner')),
    ],
    jointOutgoing: cs.votersOutgoing,
    peers: replica.peers(),
    http: config.http,
    peer: directory.get(config.node)?.peer ?? null,
    keys: replica.sm.size,
    membersFromLog: Object.fromEntries(
      [...fromLog].map(([id, c]) => [id, parseMemberContext(c) ?? c]),
    ),
    transport: replica.transport.stats(),
    counters: metrics.counters(),
    stopped: s.stopped,
  };
}
