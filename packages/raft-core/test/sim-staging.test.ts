/**
 * Randomized simulation with storages that stage snapshots beside their write queue
 * (`LogStorage.stageSnapshot`, as raft-storage-sqlite does): the driver then saves log entries
 * and steps messages while a snapshot of its own, or one from the leader, is being staged for up
 * to longer than an election timeout. SIM_SEEDS=N runs N/5 seeds; SEED=s replays one.
 */
import { defineSimShard } from './support/seeds.js';

defineSimShard(0, {
  name: 'staged snapshots',
  file: 'test/sim-staging',
  options: { stageSnapshotMs: [0.5, 700] },
});
