/**
 * kvapi's operator subcommands: `inspect`, `recover`, `backup` and `restore`. Each prints one
 * JSON line on success (exit 0); a bad command line prints one line and exits 2, a failure one
 * line and exits 1. Only `backup --from` talks to the network (to one node's HTTP address).
 */
import { parseArgs } from 'node:util';
import { backupFromData, backupFromNode, restore } from './backup.js';
import { parseCluster, UsageError } from './cli.js';
import { openData, ToolError } from './offline.js';
import { recover } from './recover.js';

export const TOOLS = ['inspect', 'recover', 'backup', 'restore'] as const;
export type Tool = (typeof TOOLS)[number];

export const TOOLS_USAGE = `Operator subcommands (the node must be stopped unless noted):
  kvapi inspect --data DIR --node ID [--cluster-id ID]
      print the stored term, vote, commit index, configuration and last log index/term
  kvapi recover --data DIR --node ID [--cluster-id ID]
      lost-quorum recovery: make this node the only voter of a new configuration, keeping
      every entry in its log (see docs/operations.md before using it)
  kvapi backup --from HOST:PORT [--secret S] [--timeout-ms N] OUT   (the node keeps running)
  kvapi backup --data DIR --node ID [--cluster-id ID] OUT
      write a verified backup file: from a running node's GET /admin/backup (linearizable;
      --secret or env KVAPI_SECRET is its bearer token), or from a stopped node's committed
      entries
  kvapi restore IN --data DIR --node ID --cluster LIST [--cluster-id ID]
      create a new cluster's member from a backup; run it on every member of LIST, then start
      each with the same --cluster (DIR must be empty or missing)`;

export function isTool(arg: string | undefined): arg is Tool {
  return (TOOLS as readonly string[]).includes(arg ?? '');
}

interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function parse(
  argv: readonly string[],
  options: Record<string, { type: 'string' | 'boolean' }>,
): Parsed {
  try {
    const r = parseArgs({ args: [...argv], strict: true, allowPositionals: true, options });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}

function need(p: Parsed, flag: string, tool: string): string {
  const v = p.values[flag];
  if (typeof v !== 'string' || v === '') throw new UsageError(`${tool}: --${flag} is required`);
  return v;
}

function positionals(p: Parsed, n: number, what: string, tool: string): string[] {
  if (p.positionals.length !== n) {
    throw new UsageError(`${tool}: expected ${what}, got ${p.positionals.length} argument(s)`);
  }
  return p.positionals;
}

const DATA = {
  data: { type: 'string' },
  node: { type: 'string' },
  'cluster-id': { type: 'string' },
} as const;

/** Runs one subcommand; `argv[0]` is its name. Resolves with the JSON it prints. */
export async function runTool(argv: readonly string[]): Promise<Record<string, unknown>> {
  const [tool, ...rest] = argv as [Tool, ...string[]];
  const clusterId = (p: Parsed): string =>
    (p.values['cluster-id'] as string | undefined) ?? 'kvapi';
  switch (tool) {
    case 'inspect': {
      const p = parse(rest, DATA);
      positionals(p, 0, 'no positional arguments', tool);
      const opened = await openData({
        data: need(p, 'data', tool),
        node: need(p, 'node', tool),
        clusterId: clusterId(p),
        upTo: 'all',
      });
      try {
        return { ...opened.summary, knownIds: opened.knownIds };
      } finally {
        await opened.close();
      }
    }
    case 'recover': {
      const p = parse(rest, DATA);
      positionals(p, 0, 'no positional arguments', tool);
      const r = await recover({
        data: need(p, 'data', tool),
        node: need(p, 'node', tool),
        clusterId: clusterId(p),
      });
      return { recovered: true, ...r };
    }
    case 'backup': {
      const p = parse(rest, {
        ...DATA,
        from: { type: 'string' },
        'timeout-ms': { type: 'string' },
        secret: { type: 'string' },
      });
      const [out] = positionals(p, 1, 'one output file', tool) as [string];
      const from = p.values.from;
      if (typeof from === 'string') {
        if (p.values.data !== undefined)
          throw new UsageError('backup: give --from or --data, not both');
        const t = Number(p.values['timeout-ms'] ?? 60_000);
        if (!Number.isSafeInteger(t) || t < 1)
          throw new UsageError('backup: --timeout-ms must be a positive integer');
        const s = (p.values.secret as string | undefined) ?? process.env.KVAPI_SECRET;
        const secret = s === undefined || s === '' ? undefined : s;
        return { backup: out, ...(await backupFromNode(from, out, t, secret)) };
      }
      const header = await backupFromData({
        data: need(p, 'data', tool),
        node: need(p, 'node', tool),
        clusterId: clusterId(p),
        out,
      });
      return { backup: out, ...header };
    }
    case 'restore': {
      const p = parse(rest, { ...DATA, cluster: { type: 'string' } });
      const [input] = positionals(p, 1, 'one backup file', tool) as [string];
      const node = need(p, 'node', tool);
      const cluster = parseCluster(need(p, 'cluster', tool));
      if (!cluster.some((m) => m.id === node)) {
        throw new UsageError(`restore: --node ${node} is not in --cluster`);
      }
      const r = await restore({
        input,
        data: need(p, 'data', tool),
        node,
        clusterId: clusterId(p),
        cluster,
      });
      return { restored: true, ...r };
    }
  }
}

/** The process side of {@link runTool}: prints and returns the exit status. */
export async function toolMain(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${TOOLS_USAGE}\n`);
    return 0;
  }
  try {
    const out = await runTool(argv);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`kvapi ${argv[0]}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ToolError) {
      process.stderr.write(`kvapi ${argv[0]}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`kvapi ${argv[0]}: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
