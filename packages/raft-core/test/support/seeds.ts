import { describe, it } from 'vitest';
import { runRandomScenario } from './random-scenario.js';

/** A variant of the random scenario, run over its own seeds in its own test file. */
export interface SimVariant {
  readonly name: string;
  readonly file: string;
  /** Options for {@link runRandomScenario}. */
  readonly options: Parameters<typeof runRandomScenario>[2];
}

/** A variant's seeds: `SEED` alone if set, else a fifth of `SIM_SEEDS` (default 100). */
function variantSeeds(_variant: SimVariant): number[] {
  const one = process.env.SEED;
  if (one !== undefined && one !== '') return [Number(one)];
  const n = Math.ceil(Number(process.env.SIM_SEEDS ?? 500) / 5);
  const base = Number(process.env.SIM_BASE_SEED ?? 1);
  return Array.from({ length: n }, (_, i) => base + i);
}

/** Shards of the randomized simulation run in parallel test files. */
export const SIM_SHARDS = 2;

/** The seeds a shard runs: `SEED` alone if set, else its share of `SIM_SEEDS` (default 500). */
export function seedsForShard(shard: number): number[] {
  const one = process.env.SEED;
  if (one !== undefined && one !== '') return shard === 0 ? [Number(one)] : [];
  const n = Number(process.env.SIM_SEEDS ?? 500);
  const base = Number(process.env.SIM_BASE_SEED ?? 1);
  const out: number[] = [];
  for (let i = shard; i < n; i += SIM_SHARDS) out.push(base + i);
  return out;
}

/**
 * Defines shard `shard` of the randomized simulation: one test per seed of
 * {@link runRandomScenario}. A failure prints the exact replay command.
 */
export function defineSimShard(shard: number, variant?: SimVariant): void {
  const name = variant === undefined ? '' : `, ${variant.name}`;
  describe(`randomized simulation (shard ${shard}${name})`, () => {
    const seeds = variant === undefined ? seedsForShard(shard) : variantSeeds(variant);
    // With SEED set, only shard 0 runs it; an empty suite would fail vitest, so say why.
    if (seeds.length === 0) {
      it.skip('no seeds for this shard (SEED replays one seed in shard 0)', () => {});
    }
    for (const seed of seeds) {
      it(`seed ${seed}`, async () => {
        try {
          await runRandomScenario(seed, undefined, variant?.options);
        } catch (e) {
          const err = e as Error;
          err.message += `\nreplay: SEED=${seed} pnpm vitest run --project raft-core ${variant?.file ?? 'test/sim'}`;
          throw err;
        }
      });
    }
  });
}
