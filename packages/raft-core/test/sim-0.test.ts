/**
 * Randomized simulation: many seeds of {@link runRandomScenario}.
 * SIM_SEEDS=N runs N seeds (default 500, split across the sim-*.test.ts shards); SEED=s
 * replays one. A failure prints the exact replay command.
 */
import { describe, it } from 'vitest';
import { runRandomScenario } from './support/random-scenario.js';
import { seedsForShard } from './support/seeds.js';

describe('randomized simulation (shard 0)', () => {
  const seeds = seedsForShard(0);
  // With SEED set, only shard 0 runs it; an empty suite would fail vitest, so say why.
  if (seeds.length === 0)
    it.skip('no seeds for this shard (SEED replays one seed in shard 0)', () => {});
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      try {
        await runRandomScenario(seed);
      } catch (e) {
        const err = e as Error;
        err.message += `\nreplay: SEED=${seed} pnpm vitest run --project raft-core test/sim`;
        throw err;
      }
    });
  }
});
