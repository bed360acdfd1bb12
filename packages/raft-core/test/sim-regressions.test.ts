/**
 * Seeds of the randomized simulation that once found a bug, kept as regression scenarios.
 * Each runs the full random scenario (faults, membership, snapshots, KV linearizability).
 */
import { describe, it } from 'vitest';
import { runRandomScenario } from './support/random-scenario.js';

const REGRESSIONS: { seed: number; bug: string }[] = [
  {
    seed: 3,
    bug: 'a lost MsgApp with a full inflight window stalled a follower in replicate state forever',
  },
  {
    seed: 15,
    bug: 'invariant checker kept hashes of a log prefix replaced by a restored snapshot',
  },
  {
    seed: 223,
    bug: 'a node added later rebuilt its config from an empty one, elected itself alone',
  },
  { seed: 279, bug: 'a proposal covered by an installed snapshot was never settled' },
  { seed: 174, bug: 'a proposal covered by an installed snapshot was never settled' },
  { seed: 10776, bug: "snapshot transfer stalled when the follower's final MsgAppResp was lost" },
  {
    seed: 22667,
    bug: 'auto-leaving a joint config during a leadership transfer threw and stopped the leader; a new leader never left the joint config',
  },
];

describe('simulation regressions', () => {
  for (const { seed, bug } of REGRESSIONS) {
    it(`seed ${seed}: ${bug}`, async () => {
      await runRandomScenario(seed);
    });
  }
});
