/**
 * Runs seeds [from, to] of the randomized simulation in this process and prints one line per
 * seed (`seed N ok|FAIL ...`). With --stop, stops at the first failure.
 * Usage: tsx --conditions=@tsraft/source scripts/run-seeds.mts FROM TO [--stop] [--step K]
 */
import { runRandomScenario } from '../test/support/random-scenario.js';

const args = process.argv.slice(2);
const from = Number(args[0] ?? 1);
const to = Number(args[1] ?? from);
const stop = args.includes('--stop');
const stepAt = args.indexOf('--step');
const step = stepAt >= 0 ? Number(args[stepAt + 1]) : 1;
for (let s = from; s <= to; s += step) {
  const t0 = performance.now();
  try {
    const r = await runRandomScenario(s);
    console.log(
      `seed ${s} ok ${(performance.now() - t0).toFixed(0)}ms steps=${r.steps} resends=${r.leaderResends} ${r.features.join(',')}`,
    );
  } catch (e) {
    const msg = String((e as Error).message)
      .split('\n')[0]
      ?.slice(0, 400);
    console.log(`seed ${s} FAIL ${(performance.now() - t0).toFixed(0)}ms ${msg}`);
    if (stop) process.exit(1);
  }
}
