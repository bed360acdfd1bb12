/**
 * Randomized simulation, shard 1 of 2 (the shards run in parallel files). SIM_SEEDS=N runs N
 * seeds (default 500) across the shards; SEED=s replays one.
 */
import { defineSimShard } from './support/seeds.js';

defineSimShard(1);
