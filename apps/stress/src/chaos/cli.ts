/**
 * `stress chaos [flags]`: parses the flags, runs {@link runChaos}, and exits 0 on a pass,
 * 1 on a violation or a failed convergence, 3 when the checker could not decide, 130 on Ctrl-C.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { NEMESES, type NemesisKind } from './nemesis.js';
import { interruptChaos, runChaos } from './run.js';

export const CHAOS_USAGE = `usage: stress chaos [--time S] [--nodes 3|5] [--clients N] [--seed N]
                    [--nemesis ${NEMESES.join(',')}|all|none] [--majority-faults]
                    [--keys N] [--ops-per-key N] [--tick-ms N] [--request-timeout-ms N]
                    [--client-timeout-ms N] [--snapshot-entries N] [--history FILE]
                    [--kvapi auto|dist|source] [--reads linearizable|stale]`;

function int(
  name: string,
  v: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} must be an integer in [${min}, ${max}] (got ${v})`);
  }
  return n;
}

/** The directory the user ran pnpm from (pnpm runs scripts in the package's directory). */
export function userDir(): string {
  return process.env.INIT_CWD ?? process.cwd();
}

export async function chaosMain(argv: readonly string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let nemesis: NemesisKind[];
  let o: Parameters<typeof runChaos>[0];
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        time: { type: 'string', default: '60' },
        nodes: { type: 'string', default: '3' },
        clients: { type: 'string', default: '5' },
        seed: { type: 'string' },
        nemesis: { type: 'string', default: 'all' },
        'majority-faults': { type: 'boolean', default: false },
        keys: { type: 'string', default: '3' },
        'ops-per-key': { type: 'string', default: '250' },
        'tick-ms': { type: 'string', default: '50' },
        'request-timeout-ms': { type: 'string', default: '2000' },
        'client-timeout-ms': { type: 'string', default: '3000' },
        'snapshot-entries': { type: 'string', default: '500' },
        history: { type: 'string' },
        kvapi: { type: 'string', default: 'auto' },
        reads: { type: 'string', default: 'linearizable' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help === true) {
      console.log(CHAOS_USAGE);
      return 0;
    }
    const str = (k: string): string | undefined => values[k] as string | undefined;
    const n = str('nemesis') ?? 'all';
    nemesis =
      n === 'all'
        ? [...NEMESES]
        : n === 'none'
          ? []
          : (n.split(',').map((s) => s.trim()) as NemesisKind[]);
    const bad = nemesis.filter((k) => !(NEMESES as readonly string[]).includes(k));
    if (bad.length > 0)
      throw new Error(`--nemesis: unknown ${bad.join(', ')} (know ${NEMESES.join(', ')})`);
    const history = str('history');
    const reads = str('reads') ?? 'linearizable';
    if (reads !== 'linearizable' && reads !== 'stale') {
      throw new Error('--reads must be linearizable or stale');
    }
    const kvapi = str('kvapi') ?? 'auto';
    if (kvapi !== 'auto' && kvapi !== 'dist' && kvapi !== 'source') {
      throw new Error('--kvapi must be auto, dist or source');
    }
    o = {
      timeS: int('time', str('time'), 1),
      nodes: int('nodes', str('nodes'), 1, 9),
      clients: int('clients', str('clients'), 1, 200),
      seed:
        str('seed') === undefined
          ? Math.floor(Math.random() * 2 ** 31)
          : int('seed', str('seed'), 0),
      nemesis,
      majorityFaults: values['majority-faults'] === true,
      keys: int('keys', str('keys'), 1, 1000),
      opsPerKey: int('ops-per-key', str('ops-per-key'), 1),
      tickMs: int('tick-ms', str('tick-ms'), 1),
      requestTimeoutMs: int('request-timeout-ms', str('request-timeout-ms'), 1),
      clientTimeoutMs: int('client-timeout-ms', str('client-timeout-ms'), 1),
      snapshotEntries: int('snapshot-entries', str('snapshot-entries'), 0),
      history: history === undefined ? undefined : resolve(userDir(), history),
      outDir: userDir(),
      kvapi,
      reads,
      print: (line) => console.log(line),
      command: '',
    };
    const given = argv.filter(
      (a, i) => a !== '--seed' && argv[i - 1] !== '--seed' && !a.startsWith('--seed='),
    );
    o = { ...o, command: ['pnpm stress chaos', ...given, '--seed', String(o.seed)].join(' ') };
  } catch (e) {
    console.error(`stress chaos: ${(e as Error).message}`);
    console.error(CHAOS_USAGE);
    return 2;
  }
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('\nstress chaos: interrupted; stopping every node and proxy');
    void interruptChaos().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const r = await runChaos(o);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigint);
  switch (r.verdict) {
    case 'ok':
      return 0;
    case 'unknown':
      return 3;
    default:
      return 1;
  }
}
