/**
 * The chaos history, Jepsen-style: one JSON object per line, each an `invoke` followed (for the
 * same `process`) by its completion — `ok` (it happened, with its result), `fail` (it definitely
 * did not happen: HTTP 503 or 4xx, or a refused connection) or `info` (unknown: 504, a timeout,
 * a reset). Nemesis events are `info` lines of process `"nemesis"`. Times are milliseconds
 * since the run started.
 *
 * `toOperations` turns it into raft-core/testing's `KvOperation`s: `ok` ops as they are,
 * `info` writes as "may have happened any time after the call" (return = Infinity), and
 * `fail` ops and `info` reads left out (they had no effect).
 */
import { readFileSync } from 'node:fs';
import {
  type CheckResult,
  checkOperations,
  type KvInput,
  type KvOperation,
  kvModel,
} from 'raft-core/testing';

export type OpKind = 'get' | 'put' | 'cas' | 'delete';

export interface InvokeEvent {
  readonly type: 'invoke';
  readonly process: number;
  readonly f: OpKind;
  readonly key: string;
  /** put: the value; cas: `[from, to]`; get/delete: absent. */
  readonly value?: string | [string | null, string];
  readonly node: string;
  readonly time: number;
}

export interface CompleteEvent {
  readonly type: 'ok' | 'fail' | 'info';
  readonly process: number;
  readonly f: OpKind;
  readonly key: string;
  /** get: the value read (null = absent); cas: whether it swapped; put/delete: absent. */
  readonly value?: string | null | boolean;
  readonly error?: string;
  readonly time: number;
}

export interface NemesisEvent {
  readonly type: 'info';
  readonly process: 'nemesis';
  readonly f: string;
  readonly value: string;
  readonly time: number;
}

export type HistoryEvent = InvokeEvent | CompleteEvent | NemesisEvent;

export function isNemesis(e: HistoryEvent): e is NemesisEvent {
  return e.process === 'nemesis';
}

export function readHistory(file: string): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as HistoryEvent);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
    }
  }
  return out;
}

/** One client operation with its invocation and completion, plus its line numbers. */
export interface PairedOp {
  readonly invoke: InvokeEvent;
  readonly complete: CompleteEvent | undefined;
}

/** Pairs each invocation with its process's next completion; unanswered ones stay open. */
export function pairOps(events: readonly HistoryEvent[]): PairedOp[] {
  const open = new Map<number, number>();
  const out: { invoke: InvokeEvent; complete: CompleteEvent | undefined }[] = [];
  for (const e of events) {
    if (isNemesis(e)) continue;
    if (e.type === 'invoke') {
      if (open.has(e.process))
        throw new Error(`process ${e.process} invoked twice without a completion`);
      open.set(e.process, out.length);
      out.push({ invoke: e, complete: undefined });
      continue;
    }
    const i = open.get(e.process);
    if (i === undefined) throw new Error(`process ${e.process} completed without an invocation`);
    open.delete(e.process);
    (out[i] as { complete: CompleteEvent | undefined }).complete = e;
  }
  return out;
}

function inputOf(i: InvokeEvent): KvInput {
  switch (i.f) {
    case 'get':
      return { op: 'get', key: i.key };
    case 'delete':
      return { op: 'delete', key: i.key };
    case 'put':
      return { op: 'put', key: i.key, value: String(i.value) };
    case 'cas': {
      const [from, to] = i.value as [string | null, string];
      return { op: 'cas', key: i.key, from, to };
    }
  }
}

/** The checker's view, with `source[k]` = the index in `ops` of operation `k`. */
export function toOperations(ops: readonly PairedOp[]): {
  operations: KvOperation[];
  source: number[];
} {
  const operations: KvOperation[] = [];
  const source: number[] = [];
  for (const [n, { invoke, complete }] of ops.entries()) {
    const type = complete?.type ?? 'info';
    if (type === 'fail') continue;
    const input = inputOf(invoke);
    if (type === 'info') {
      if (input.op === 'get') continue;
      operations.push({
        clientId: invoke.process,
        input,
        output: undefined,
        call: invoke.time,
        return: Infinity,
      } as KvOperation);
    } else {
      const c = complete as CompleteEvent;
      const output =
        input.op === 'put' || input.op === 'delete'
          ? 'ok'
          : input.op === 'get'
            ? ((c.value as string | null | undefined) ?? null)
            : c.value === true;
      operations.push({
        clientId: invoke.process,
        input,
        output,
        call: invoke.time,
        return: c.time,
      } as KvOperation);
    }
    source.push(n);
  }
  return { operations, source };
}

export const CHECK_OPTIONS = {
  maxSteps: 20_000_000,
  timeoutMs: 120_000,
  now: () => performance.now(),
} as const;

export function check(operations: readonly KvOperation[]): CheckResult {
  return checkOperations(kvModel, operations, CHECK_OPTIONS);
}

/**
 * The smallest failing history of one key: starting from every operation on `key`, drops one
 * operation at a time and keeps the drop whenever the rest is still not linearizable, until no
 * single drop is possible (each check of one key's history is cheap). The write of a value that
 * a remaining operation observed is never dropped, so the result still tells the story.
 */
export function shrinkKey(
  operations: readonly KvOperation[],
  key: string,
  budgetMs = 30_000,
): KvOperation[] {
  let ops = operations.filter((o) => o.input.key === key);
  const end = performance.now() + budgetMs;
  // Passes until none drops anything: a drop late in a pass can make an earlier one possible.
  for (let changed = true; changed && performance.now() < end; ) {
    changed = false;
    for (let i = ops.length - 1; i >= 0 && performance.now() < end; i--) {
      const without = ops.filter((_, j) => j !== i);
      // Keep the write of every value a remaining operation reads (or expects as a cas's
      // `from`): otherwise "read a value never written" would explain every violation and
      // the shrunk history would no longer show what went wrong.
      if (observed(without).has(writtenValue(ops[i] as KvOperation) ?? '')) continue;
      // Likewise a cas that failed from `null` saw the key present: keep some write for it.
      const failedFromNull = without.some(
        (o) => o.input.op === 'cas' && o.output === false && o.input.from === null,
      );
      if (failedFromNull && writtenValue(ops[i] as KvOperation) !== undefined) {
        if (!without.some((o) => writtenValue(o) !== undefined)) continue;
      }
      const r = checkOperations(kvModel, without, { maxSteps: 2_000_000 });
      if (r.result === 'illegal') {
        ops = without;
        changed = true;
      }
    }
  }
  return ops;
}

/** The value an operation writes, if it is a put or a cas. */
function writtenValue(o: KvOperation): string | undefined {
  return o.input.op === 'put' ? o.input.value : o.input.op === 'cas' ? o.input.to : undefined;
}

/** Every value some operation saw: a get's result, or the `from` of a successful cas. */
function observed(ops: readonly KvOperation[]): Set<string> {
  const seen = new Set<string>();
  for (const o of ops) {
    if (o.input.op === 'get' && typeof o.output === 'string') seen.add(o.output);
    if (o.input.op === 'cas' && o.output === true && o.input.from !== null) seen.add(o.input.from);
  }
  return seen;
}

/** One operation as a line for humans. */
export function describeOp(o: KvOperation): string {
  const ret = o.return === Infinity ? '∞' : o.return.toFixed(1);
  return `client ${o.clientId} [${o.call.toFixed(1)}, ${ret}] ${kvModel.describeOperation?.(o.input, o.output) ?? JSON.stringify(o.input)}`;
}
