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
