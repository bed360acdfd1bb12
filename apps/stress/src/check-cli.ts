/**
 * `stress check FILE`: re-checks a saved chaos history (JSON lines) with the linearizability
 * checker. Exits 0 if linearizable, 1 if not (printing the smallest failing key history),
 * 3 if the checker could not decide, 2 on a bad file.
 */
import { resolve } from 'node:path';
import { userDir } from './chaos/cli.js';
import {
  check,
  describeOp,
  pairOps,
  readHistory,
  shrinkKey,
  toOperations,
} from './chaos/history.js';

export function checkMain(argv: readonly string[]): number {
  const files = argv.filter((a) => !a.startsWith('-'));
  if (files.length !== 1 || argv.includes('--help') || argv.includes('-h')) {
    console.error('usage: stress check FILE   (a history written by stress chaos)');
    return 2;
  }
  const file = resolve(userDir(), files[0] as string);
  let operations: ReturnType<typeof toOperations>['operations'];
  try {
    ({ operations } = toOperations(pairOps(readHistory(file))));
  } catch (e) {
    console.error(`stress check: ${(e as Error).message}`);
    return 2;
  }
  let res: ReturnType<typeof check>;
  try {
    res = check(operations);
  } catch (e) {
    // e.g. an operation with no finite call time: not a history stress chaos wrote.
    console.error(`stress check: ${file}: ${(e as Error).message}`);
    return 2;
  }
  console.log(
    `${file}: ${operations.length} operations on ${res.partitions.length} keys, checker: ${res.result} (${res.steps} steps)`,
  );
  if (res.result === 'illegal') {
    for (const v of res.violations) {
      const min = shrinkKey(operations, v.key as string);
      console.log(`\nkey ${v.key}: not linearizable`);
      console.log(v.message.trimEnd());
      console.log(`smallest failing history (${min.length} operations):`);
      for (const op of min) console.log(`  ${describeOp(op)}`);
    }
    console.log(`\nverdict: FAIL, ${res.violations.length} violations`);
    return 1;
  }
  if (res.result === 'unknown') {
    console.log(`verdict: undecided (${res.reason})`);
    return 3;
  }
  console.log('verdict: PASS, 0 violations');
  return 0;
}
