/**
 * Auto-leaving a joint configuration (thesis §4.3) on the pure core: the leader that enters it
 * may lose leadership before its leave entry commits, so every leader checks after each Ready.
 * (Regression: a leader elected inside a joint configuration never left it, and a leave proposed
 * during a leadership transfer threw and stopped the node — simulation seed 22667.)
 */
import { describe, expect, it } from 'vitest';
import { decodeConfChange } from '../src/confchange/codec.js';
import { Raft } from '../src/raft.js';
import { EntryType } from '../src/types.js';
import { PAPER, raftArgs } from './support/network.js';

function jointLeader(): Raft {
  const [config, state] = raftArgs('1', { ...PAPER, log: [1, 1], term: 1, commit: 2 });
  const r = new Raft(config, {
    ...state,
    confState: {
      voters: ['1', '2', '3'],
      learners: [],
      votersOutgoing: ['1', '2', '4'],
      learnersNext: [],
      autoLeave: true,
    },
  });
  r.log.appliedTo(2); // the driver applied the log, including the joint entry, as a follower
  r.becomeCandidate();
  r.becomeLeader();
  return r;
}

describe('auto-leave of a joint configuration', () => {
  it('a leader elected inside a joint configuration proposes leaving it', () => {
    const r = jointLeader();
    expect(r.tracker.config.voters.isJoint).toBe(true);
    r.afterAdvance();
    const last = r.log.entry(r.log.lastIndex());
    expect(last?.type).toBe(EntryType.ConfChange);
    expect(decodeConfChange(last?.data ?? new Uint8Array()).changes).toEqual([]);
    expect(r.pendingConfIndex).toBe(r.log.lastIndex());
    // Only once: the next check waits for that entry to apply.
    r.afterAdvance();
    expect(r.log.lastIndex()).toBe(r.pendingConfIndex);
  });

  it('does not propose (or throw) while leadership is being transferred', () => {
    const r = jointLeader();
    const before = r.log.lastIndex();
    r.leadTransferee = '2';
    expect(() => r.afterAdvance()).not.toThrow();
    expect(r.log.lastIndex()).toBe(before);
  });
});
