/**
 * What chaos prints: operations per kind and outcome, the nemesis timeline, availability as an
 * ASCII plot of ok operations per second, and the checker's verdict with the smallest failing
 * history of a key.
 */
import { writeFileSync } from 'node:fs';
import type { KvOperation } from 'raft-core/testing';
import {
  type HistoryEvent,
  isNemesis,
  type NemesisEvent,
  type OpKind,
  type PairedOp,
} from './history.js';

export function opCounts(ops: readonly PairedOp[]): string {
  const kinds: OpKind[] = ['get', 'put', 'cas', 'delete'];
  const rows = kinds.map((f) => {
    const mine = ops.filter((o) => o.invoke.f === f);
    const n = (t: string): number => mine.filter((o) => (o.complete?.type ?? 'info') === t).length;
    return [f, mine.length, n('ok'), n('fail'), n('info')] as const;
  });
  const total = ['total', ...[1, 2, 3, 4].map((i) => rows.reduce((s, r) => s + Number(r[i]), 0))];
  const lines = [['op', 'total', 'ok', 'fail', 'info'], ...rows, total].map((r) =>
    r.map((c, i) => (i === 0 ? String(c).padEnd(7) : String(c).padStart(7))).join(' '),
  );
  return lines.join('\n');
}

export function nemesisTimeline(events: readonly HistoryEvent[]): string {
  const nem = events.filter(isNemesis) as NemesisEvent[];
  if (nem.length === 0) return '  (none)';
  return nem
    .map((e) => `  ${(e.time / 1000).toFixed(1).padStart(6)} s  ${e.f.padEnd(11)} ${e.value}`)
    .join('\n');
}

/** The letter that marks each nemesis episode's start in the availability plot. */
const MARKS: Readonly<Record<string, string>> = {
  kill: 'k',
  pause: 'p',
  partition: 'P',
  isolate: 'i',
  bridge: 'b',
  oneway: 'o',
  slow: 's',
  transfer: 't',
  remove: 'm',
  combo: 'c',
};

/**
 * Ok operations per second through the run, as rows of `#` (one column per second, or per
 * several seconds for long runs), with the nemesis episodes marked underneath.
 */
export function availabilityPlot(events: readonly HistoryEvent[], height = 8): string {
  const oks = events.filter((e) => !isNemesis(e) && e.type === 'ok').map((e) => e.time);
  // A loop, not Math.max(...): a 5-minute run records a few hundred thousand events, more than
  // a call's argument list can hold.
  let end = 1;
  for (const e of events) if (e.time > end) end = e.time;
  const seconds = Math.ceil(end / 1000);
  const per = Math.max(1, Math.ceil(seconds / 100));
  const cols = Math.ceil(seconds / per);
  const buckets = new Array<number>(cols).fill(0);
  for (const t of oks) buckets[Math.min(cols - 1, Math.floor(t / 1000 / per))]! += 1 / per;
  const max = Math.max(1, ...buckets);
  const rows: string[] = [];
  for (let r = height; r >= 1; r--) {
    const label = r === height ? `${Math.round(max)}`.padStart(6) : r === 1 ? '     0' : '      ';
    const line = buckets.map((b) => ((b / max) * height >= r - 0.5 ? '#' : ' ')).join('');
    rows.push(`${label} |${line}`);
  }
  rows.push(`       +${'-'.repeat(cols)}`);
  const marks = new Array<string>(cols).fill(' ');
  const col = (t: number): number => Math.min(cols - 1, Math.floor(t / 1000 / per));
  let open: number | undefined;
  for (const e of events.filter(isNemesis)) {
    const letter = MARKS[e.f];
    if (letter !== undefined) {
      open = col(e.time);
      marks[open] = letter;
    } else if (e.f === 'heal' && open !== undefined) {
      for (let c = open + 1; c <= col(e.time); c++) if (marks[c] === ' ') marks[c] = '-';
      open = undefined;
    }
  }
  rows.push(`nemesis ${marks.join('')}`);
  rows.push(
    `        one column = ${per} s; ${Object.entries(MARKS)
      .map(([f, l]) => `${l}=${f}`)
      .join(' ')}; - = fault active`,
  );
  return rows.join('\n');
}

/** Writes operations back as a history file that `stress check` reads. */
export function writeOperations(file: string, ops: readonly KvOperation[]): void {
  const lines: string[] = [];
  for (const o of ops) {
    const i = o.input;
    const value = i.op === 'put' ? i.value : i.op === 'cas' ? [i.from, i.to] : undefined;
    lines.push(
      JSON.stringify({
        type: 'invoke',
        process: o.clientId,
        f: i.op,
        key: i.key,
        ...(value !== undefined && { value }),
        node: '?',
        time: o.call,
      }),
    );
    if (o.return !== Infinity) {
      const out = i.op === 'get' || i.op === 'cas' ? { value: o.output } : {};
      lines.push(
        JSON.stringify({
          type: 'ok',
          process: o.clientId,
          f: i.op,
          key: i.key,
          ...out,
          // Strictly after the call, so sorting by time keeps invoke before completion.
          time: Math.max(o.return, o.call + 1e-6),
        }),
      );
    }
  }
  // In time order; on a tie a completion goes first (a process's next call can start the
  // instant its previous operation returned).
  const parsed = lines.map((l) => JSON.parse(l) as { time: number; type: string });
  parsed.sort(
    (a, b) => a.time - b.time || (a.type === 'invoke' ? 1 : 0) - (b.type === 'invoke' ? 1 : 0),
  );
  writeFileSync(file, `${parsed.map((p) => JSON.stringify(p)).join('\n')}\n`);
}
