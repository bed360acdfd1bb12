/**
 * `stress`: tsraft's benchmark and chaos checker.
 *
 *   stress chaos [flags]    kvapi processes under faults; checks linearizability (chaos/cli.ts)
 *   stress check FILE       re-checks a saved chaos history
 *   stress bench [flags]    throughput and latency of N raft nodes (bench-cli.ts); the
 *                           default when the first argument is a flag
 */
import { benchMain } from './bench-cli.js';
import { chaosMain } from './chaos/cli.js';
import { checkMain } from './check-cli.js';

// pnpm passes a literal `--` through when called as `pnpm --filter stress start -- …`.
const argv = process.argv.slice(2).filter((a) => a !== '--');
const [cmd, ...rest] = argv;
let code: number;
if (cmd === 'chaos') code = await chaosMain(rest);
else if (cmd === 'check') code = checkMain(rest);
else if (cmd === 'bench') code = await benchMain(rest);
else if (cmd === undefined || cmd.startsWith('-')) code = await benchMain(argv);
else {
  console.error(`stress: unknown command ${cmd}; use chaos, check or bench`);
  code = 2;
}
process.exit(code);
