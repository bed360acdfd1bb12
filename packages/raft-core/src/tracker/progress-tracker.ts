import { JointConfig } from '../quorum/joint.js';
import { MajorityConfig, type VoteResult } from '../quorum/majority.js';
import type { ConfState, Index, NodeId } from '../types.js';
import { Progress } from './progress.js';

/** The membership as the tracker sees it. */
export interface TrackerConfig {
  readonly voters: JointConfig;
  readonly learners: ReadonlySet<NodeId>;
  /** Outgoing voters that become learners when the joint config is left. */
  readonly learnersNext: ReadonlySet<NodeId>;
  readonly autoLeave: boolean;
}

/** Builds a {@link TrackerConfig} from a persisted {@link ConfState}. */
export function configFromConfState(cs: ConfState): TrackerConfig {
  return {
    voters: new JointConfig(new MajorityConfig(cs.voters), new MajorityConfig(cs.votersOutgoing)),
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

/** The inverse of {@link configFromConfState}. Ids are sorted so equal configs compare equal. */
export function confStateFromConfig(c: TrackerConfig): ConfState {
  return {
    voters: [...c.voters.incoming.ids].sort(),
    learners: [...c.learners].sort(),
    votersOutgoing: [...c.voters.outgoing.ids].sort(),
    learnersNext: [...c.learnersNext].sort(),
    autoLeave: c.autoLeave,
  };
}

/**
 * `ProgressTracker` holds the configuration, the leader's per-member {@link Progress} and the
 * votes of the current election.
 */
export class ProgressTracker {
  config: TrackerConfig;
  progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {
    this.config = configFromConfState({
      voters: [],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
  }

  /** Installs a configuration; members keep their progress, new members start at `nextIndex`. */
  setConfig(config: TrackerConfig, nextIndex: Index, nowTick = 0): void {
    const old = this.progress;
    const progress = new Map<NodeId, Progress>();
    const add = (id: NodeId, learner: boolean): void => {
      let pr = old.get(id);
      if (pr === undefined) {
        pr = new Progress(nextIndex, learner, this.maxInflight, this.maxInflightBytes);
        // NB: a member added while we lead is assumed active, so CheckQuorum does not step down
        // before it had a chance to respond (etcd does the same).
        pr.recentActive = true;
        pr.lastHeardTick = nowTick;
      }
      pr.isLearner = learner;
      progress.set(id, pr);
    };
    for (const id of config.voters.ids()) add(id, false);
    for (const id of config.learners) add(id, true);
    for (const id of config.learnersNext) if (!progress.has(id)) add(id, true);
    this.config = config;
    this.progress = progress;
  }

  isVoter(id: NodeId): boolean {
    return this.config.voters.incoming.ids.has(id) || this.config.voters.outgoing.ids.has(id);
  }

  /** True when this configuration has exactly one voter and it is `id`. */
  isSingleton(id: NodeId): boolean {
    const v = this.config.voters;
    return !v.isJoint && v.incoming.size === 1 && v.incoming.ids.has(id);
  }

  /** The highest index replicated on a quorum (by `match`). */
  committed(): Index {
    return this.config.voters.committedIndex((id) => this.progress.get(id)?.match);
  }

  /** True if a quorum of voters was recently active (CheckQuorum, thesis §6.2). */
  quorumActive(self: NodeId): boolean {
    return (
      this.config.voters.voteResult((id) =>
        id === self ? true : (this.progress.get(id)?.recentActive ?? false),
      ) === 'won'
    );
  }

  /**
   * During a campaign: the voters of the latest configuration in the candidate's log when its
   * log holds ConfChange entries it has not applied yet (null otherwise). The candidate must win
   * in that configuration too (thesis §4.1: a server uses the latest configuration in its log).
   */
  electionVoters: JointConfig | null = null;

  resetVotes(): void {
    this.votes.clear();
    this.electionVoters = null;
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.config.voters.ids()) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const vote = (id: NodeId) => this.votes.get(id);
    let result = this.config.voters.voteResult(vote);
    if (this.electionVoters !== null) {
      const latest = this.electionVoters.voteResult(vote);
      if (latest === 'lost' || result === 'lost') result = 'lost';
      else if (latest !== 'won') result = 'pending';
    }
    return { granted, rejected, result };
  }
}
