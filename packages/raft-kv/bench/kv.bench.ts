/**
 * raft-kv micro benchmarks (not a test; numbers depend on the machine):
 * `pnpm --filter raft-kv bench`.
 *
 * - apply throughput: puts over 100k keys (decode + tree write + result), with and without a
 *   snapshot pending (copy-on-write path);
 * - 1M keys: snapshot capture time, total serialization time, the longest event-loop gap while
 *   it serializes, snapshot size, and restore time.
 */
import { type Entry, EntryType } from 'raft-core';
import { encodeKvCommand, KvStateMachine } from '../src/index.js';

function entries(n: number, keys: number, from = 1): Entry[] {
  const out: Entry[] = [];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const key = `user/${(x % keys).toString().padStart(7, '0')}`;
    const data = encodeKvCommand({ op: 'put', key, value: `value-${i}` }, { time: i });
    out.push({ index: from + i, term: 1, type: EntryType.Normal, data });
  }
  return out;
}

const pending: Promise<Uint8Array>[] = [];

function applyAll(sm: KvStateMachine, es: Entry[], snapshotEvery = 0): number {
  const t0 = performance.now();
  for (let i = 0; i < es.length; i++) {
    // Only snapshot()'s synchronous capture runs inside the timed loop; the serializations
    // run (and are awaited) afterwards, so this measures the copy-on-write cost of writes.
    if (snapshotEvery > 0 && i % snapshotEvery === 0) pending.push(sm.snapshot());
    sm.apply(es[i] as Entry);
  }
  return performance.now() - t0;
}

async function putThroughput(): Promise<void> {
  const warm = entries(100_000, 100_000);
  const sm = new KvStateMachine();
  applyAll(sm, warm);
  for (const [label, every] of [
    ['no snapshot pending', 0],
    ['a snapshot every 10k applies', 10_000],
  ] as const) {
    const es = entries(1_000_000, 100_000, sm.appliedIndex + 1);
    const ms = applyAll(sm, es, every);
    await Promise.all(pending.splice(0));
    console.log(
      `apply put, 100k keys, ${label}: ${Math.round((es.length / ms) * 1000).toLocaleString('en')} puts/s`,
    );
  }
}

async function bigSnapshot(): Promise<void> {
  const sm = new KvStateMachine();
  let index = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const data = encodeKvCommand(
      { op: 'put', key: `key/${i.toString().padStart(8, '0')}`, value: `value-${i}` },
      { time: i },
    );
    sm.apply({ index: ++index, term: 1, type: EntryType.Normal, data });
  }
  let maxGap = 0;
  let last = performance.now();
  let running = true;
  const probe = (): void => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    if (running) setImmediate(probe);
  };
  setImmediate(probe);
  await new Promise((r) => setImmediate(r));
  const t0 = performance.now();
  const pending = sm.snapshot();
  const capture = performance.now() - t0;
  last = performance.now();
  const bytes = await pending;
  const total = performance.now() - t0;
  running = false;
  const r0 = performance.now();
  const copy = new KvStateMachine();
  copy.restore(bytes);
  const restore = performance.now() - r0;
  if (copy.size !== sm.size) throw new Error('restore lost keys');
  console.log(
    `snapshot 1M keys: capture ${capture.toFixed(3)} ms, serialize ${total.toFixed(0)} ms, ` +
      `max event-loop gap ${maxGap.toFixed(1)} ms, ${(bytes.byteLength / 1e6).toFixed(1)} MB; ` +
      `restore ${restore.toFixed(0)} ms`,
  );
}

await putThroughput();
await bigSnapshot();
