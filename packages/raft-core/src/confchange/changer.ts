import { RaftError } from '../errors.js';
import { JointConfig } from '../quorum/joint.js';
import { MajorityConfig } from '../quorum/majority.js';
import type { TrackerConfig } from '../tracker/progress-tracker.js';
import type { ConfChange, ConfChangeSingle, NodeId } from '../types.js';

function invalid(msg: string): never {
  throw new RaftError('InvalidArgument', msg);
}

/** How a {@link ConfChange} is carried out against a configuration. */
export type ChangeKind = 'simple' | 'enterJoint' | 'leaveJoint';

/** Classifies `cc`: no changes leaves a joint config; several (or `joint`) enter one. */
export function changeKind(cc: ConfChange): ChangeKind {
  if (cc.changes.length === 0) return 'leaveJoint';
  if (cc.joint === true || cc.changes.length > 1) return 'enterJoint';
  return 'simple';
}

/**
 * Computes the configuration that results from applying `cc` to `cfg` (thesis §4.1 for a
 * single change, §4.3 for joint consensus). Pure: returns a new config, never mutates.
 * Throws `RaftError('InvalidArgument')` for a change that is not allowed.
 */
export function applyChange(cfg: TrackerConfig, cc: ConfChange): TrackerConfig {
  if (cfg.voters.incoming.size === 0 && !cfg.voters.isJoint && cc.changes.length > 0) {
    return bootstrap(cfg, cc.changes);
  }
  if (cc.changes.length > 0) {
    // Changes that change nothing are dropped (e.g. the bootstrap entry replayed at restart on
    // top of the stored configuration); if nothing is left, the configuration stays as it is.
    const changes = cc.changes.filter((ch) => !isNoop(cfg, ch));
    if (changes.length === 0) return cfg;
    if (changes.length !== cc.changes.length) cc = { ...cc, changes };
  }
  switch (changeKind(cc)) {
    case 'leaveJoint':
      return leaveJoint(cfg);
    case 'enterJoint':
      return enterJoint(cfg, cc.changes);
    case 'simple':
      return simple(cfg, cc.changes);
  }
}

function isNoop(cfg: TrackerConfig, ch: ConfChangeSingle): boolean {
  const isVoter = cfg.voters.incoming.ids.has(ch.node);
  const isLearner = cfg.learners.has(ch.node) || cfg.learnersNext.has(ch.node);
  switch (ch.op) {
    case 'addVoter':
      return isVoter && !cfg.voters.isJoint;
    case 'addLearner':
      return isLearner && !isVoter;
    case 'removeNode':
      return !isVoter && !isLearner && !cfg.voters.outgoing.ids.has(ch.node);
  }
}

/**
 * The first configuration of a cluster: the bootstrap entry (index 1) adds every founding voter
 * at once to an empty configuration. Every node replaying the log from the start, including
 * nodes added later, rebuilds the membership from it.
 */
function bootstrap(cfg: TrackerConfig, changes: readonly ConfChangeSingle[]): TrackerConfig {
  const voters = new Set<NodeId>();
  const learners = new Set(cfg.learners);
  applySingles(voters, learners, new Set(), null, changes);
  if (voters.size === 0) invalid('the bootstrap configuration needs at least one voter');
  return {
    voters: new JointConfig(new MajorityConfig(voters), new MajorityConfig()),
    learners,
    learnersNext: new Set(),
    autoLeave: false,
  };
}

function simple(cfg: TrackerConfig, changes: readonly ConfChangeSingle[]): TrackerConfig {
  if (cfg.voters.isJoint)
    invalid('cannot apply a simple change in a joint configuration; leave it first');
  const voters = new Set(cfg.voters.incoming.ids);
  const learners = new Set(cfg.learners);
  applySingles(voters, learners, new Set(), null, changes);
  let diff = 0;
  for (const id of voters) if (!cfg.voters.incoming.ids.has(id)) diff++;
  for (const id of cfg.voters.incoming.ids) if (!voters.has(id)) diff++;
  if (diff > 1) invalid('more than one voter changed without joint consensus');
  if (voters.size === 0) invalid('removing the last voter is not allowed');
  return {
    voters: new JointConfig(new MajorityConfig(voters), new MajorityConfig()),
    learners,
    learnersNext: new Set(),
    autoLeave: false,
  };
}

function enterJoint(cfg: TrackerConfig, changes: readonly ConfChangeSingle[]): TrackerConfig {
  if (cfg.voters.isJoint) invalid('already in a joint configuration');
  if (cfg.voters.incoming.size === 0)
    invalid('cannot enter a joint configuration from an empty one');
  const outgoing = new Set(cfg.voters.incoming.ids);
  const voters = new Set(cfg.voters.incoming.ids);
  const learners = new Set(cfg.learners);
  const learnersNext = new Set<NodeId>();
  applySingles(voters, learners, learnersNext, outgoing, changes);
  if (voters.size === 0) invalid('the incoming configuration would have no voters');
  return {
    voters: new JointConfig(new MajorityConfig(voters), new MajorityConfig(outgoing)),
    learners,
    learnersNext,
    autoLeave: true,
  };
}

function leaveJoint(cfg: TrackerConfig): TrackerConfig {
  if (!cfg.voters.isJoint) invalid('not in a joint configuration');
  const learners = new Set(cfg.learners);
  for (const id of cfg.learnersNext) learners.add(id);
  return {
    voters: new JointConfig(new MajorityConfig(cfg.voters.incoming.ids), new MajorityConfig()),
    learners,
    learnersNext: new Set(),
    autoLeave: false,
  };
}

/**
 * Applies single changes to the incoming voters/learners. A voter of the outgoing config that
 * becomes a learner is parked in `learnersNext` until the joint config is left (it must keep
 * voting in the outgoing half meanwhile).
 */
function applySingles(
  voters: Set<NodeId>,
  learners: Set<NodeId>,
  learnersNext: Set<NodeId>,
  outgoing: ReadonlySet<NodeId> | null,
  changes: readonly ConfChangeSingle[],
): void {
  for (const ch of changes) {
    if (typeof ch.node !== 'string' || ch.node === '') invalid('conf change needs a node id');
    switch (ch.op) {
      case 'addVoter':
        learners.delete(ch.node);
        learnersNext.delete(ch.node);
        voters.add(ch.node);
        break;
      case 'addLearner':
        voters.delete(ch.node);
        if (outgoing?.has(ch.node)) {
          learners.delete(ch.node);
          learnersNext.add(ch.node);
        } else {
          learners.add(ch.node);
        }
        break;
      case 'removeNode':
        voters.delete(ch.node);
        learners.delete(ch.node);
        learnersNext.delete(ch.node);
        break;
      default:
        invalid(`unknown conf change op ${String((ch as { op: unknown }).op)}`);
    }
  }
}
