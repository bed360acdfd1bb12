/**
 * Benchmarks (not tests): `pnpm --filter raft-transport-ws bench`.
 *
 * 1. Codec: a MsgApp of 100 entries × 100 B through the hand-written codec and through msgpackr.
 * 2. Transport: messages/s and MB/s from this process to a child process over WsTransport
 *    (127.0.0.1, HMAC auth, no TLS), counted by the receiver.
 *
 * BENCH_SECONDS (default 3) sets the length of each transport run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Packr } from 'msgpackr';
import type { Entry, Message, MsgApp } from 'raft-core';
import { decodeMessages, encodeMessages, WsTransport } from '../src/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

function msgApp(entries: number, size: number, index = 1): MsgApp {
  const list: Entry[] = [];
  for (let i = 0; i < entries; i++) {
    const data = new Uint8Array(size);
    for (let j = 0; j < size; j++) data[j] = (i * 7 + j) & 0xff;
    list.push({ index: index + i, term: 5, type: 0, data });
  }
  return {
    type: 'MsgApp',
    from: 'sender',
    to: 'receiver',
    term: 5,
    index: index - 1,
    logTerm: 5,
    commit: index - 1,
    entries: list,
  };
}

/** Runs `fn` repeatedly for ~1 s after a warm-up, five times; returns the median ops/s. */
function opsPerSecond(fn: () => void): number {
  for (let i = 0; i < 2_000; i++) fn();
  const rates: number[] = [];
  for (let run = 0; run < 5; run++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1_000) {
      for (let i = 0; i < 50; i++) fn();
      n += 50;
    }
    rates.push(n / ((performance.now() - t0) / 1_000));
  }
  return rates.sort((a, b) => a - b)[2]!;
}

function codecBench(): void {
  const m = msgApp(100, 100);
  const hand = encodeMessages([m]);
  const packr = new Packr({ useRecords: true });
  const unpackr = new Packr({ useRecords: true });
  const packed = packr.pack([m]);
  const plain = new Packr({ useRecords: false });
  const plainPacked = plain.pack([m]);
  const rows: Array<[string, number, () => void, () => void]> = [
    [
      'hand-written (this package)',
      hand.length,
      () => encodeMessages([m]),
      () => decodeMessages(hand),
    ],
    [
      'msgpackr useRecords:true',
      packed.length,
      () => packr.pack([m]),
      () => unpackr.unpack(packed),
    ],
    [
      'msgpackr useRecords:false',
      plainPacked.length,
      () => plain.pack([m]),
      () => plain.unpack(plainPacked),
    ],
  ];
  console.log('\n## Codec: MsgApp with 100 entries × 100 B (median of 5 × 1 s, one core)\n');
  console.log('| codec | bytes | encode/s | decode/s | encode+decode/s | ns per entry (enc+dec) |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, bytes, enc, dec] of rows) {
    const e = opsPerSecond(enc);
    const d = opsPerSecond(dec);
    const both = opsPerSecond(() => {
      enc();
      dec();
    });
    const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
    console.log(
      `| ${name} | ${fmt(bytes)} | ${fmt(e)} | ${fmt(d)} | ${fmt(both)} | ${Math.round(1e9 / both / 100)} |`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Two processes

interface Counts {
  byType: Record<string, number>;
  entries: number;
  payloadBytes: number;
  wireBytes: number;
  /** Receiver CPU time (user + system) so far. */
  cpuMs: number;
}

function request(child: ChildProcess): Promise<Counts> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as Counts));
    child.send({ cmd: 'count' });
  });
}

async function transportBench(): Promise<void> {
  const sender = new WsTransport({
    nodeId: 'sender',
    clusterId: 'bench',
    listen: '127.0.0.1:0',
    secret: 'bench secret',
    ...(process.env.BENCH_MAX_BATCH === undefined
      ? {}
      : { maxBatchBytes: Number(process.env.BENCH_MAX_BATCH) }),
    ...(process.env.BENCH_HWM === undefined
      ? {}
      : { highWaterMarkBytes: Number(process.env.BENCH_HWM) }),
  });
  const { port: senderPort } = await sender.listen();
  const script = fileURLToPath(new URL('./ws-receiver.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=@tsraft/source', '--import', 'tsx', script, `127.0.0.1:${senderPort}`],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { port: number }));
      child.once('exit', (code) => reject(new Error(`receiver exited early (${code})`)));
    });
    sender.addPeer('receiver', `127.0.0.1:${port}`);
    await sender.start(() => {});

    const scenarios: Array<[string, () => Message]> = [
      ['small: MsgApp, 1 entry × 100 B', () => msgApp(1, 100)],
      [
        'heartbeat (no payload)',
        () => ({
          type: 'MsgHeartbeat',
          from: 'sender',
          to: 'receiver',
          term: 5,
          commit: 9,
          context: 0,
        }),
      ],
      ['large: MsgApp, 1 entry × 64 KiB', () => msgApp(1, 64 * 1024)],
      ['batch: MsgApp, 100 entries × 100 B', () => msgApp(100, 100)],
    ];
    console.log(
      `\n## Transport: sender process → receiver process, 127.0.0.1, ${SECONDS} s per row (counted by the receiver)\n`,
    );
    console.log(
      '| messages | messages/s | entries/s | payload MB/s | wire MB/s | dropped | sender CPU | receiver CPU |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const [name, make] of scenarios) {
      const template = make();
      const droppedBefore = sender.stats().droppedQueueFull;
      // Keep ~2 MiB / 16k messages queued: enough to fill every frame, never enough to hit the
      // queue bounds (so nothing is dropped). stats() is read once per 256 messages.
      const batch = [template];
      const size = encodeMessages(batch).length;
      const perCheck = Math.max(1, Math.min(256, Math.floor((64 * 1024) / size)));
      let running = true;
      const pump = (): void => {
        if (!running) return;
        for (let i = 0; i < 1_000; i++) {
          const s = sender.stats();
          if (s.queuedBytes >= 2 * 1024 * 1024 || s.queuedMessages >= 16_384) break;
          for (let j = 0; j < perCheck; j++) sender.send('receiver', batch);
        }
        setImmediate(pump);
      };
      pump();
      await new Promise((r) => setTimeout(r, 500)); // warm-up
      const a = await request(child);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, SECONDS * 1_000));
      const b = await request(child);
      const dt = (performance.now() - t0) / 1_000;
      const cpu = process.cpuUsage(cpu0);
      const pct = (ms: number): string => `${Math.round(ms / 10 / dt)}%`;
      running = false;
      // Drain before the next row (bounded: at most 10 s).
      for (let i = 0; i < 1_000; i++) {
        const s = sender.stats();
        if (s.queuedMessages === 0 && s.bufferedBytes === 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 200));
      const messages = (b.byType[template.type] ?? 0) - (a.byType[template.type] ?? 0);
      const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
      const mb = (n: number): string => (n / dt / 1e6).toFixed(1);
      console.log(
        `| ${name} | ${fmt(messages / dt)} | ${fmt((b.entries - a.entries) / dt)} | ${mb(b.payloadBytes - a.payloadBytes)} | ${mb(b.wireBytes - a.wireBytes)} | ${sender.stats().droppedQueueFull - droppedBefore} | ${pct((cpu.user + cpu.system) / 1_000)} | ${pct(b.cpuMs - a.cpuMs)} |`,
      );
    }
  } finally {
    await sender.stop();
    if (child.connected) child.send({ cmd: 'stop' });
    const killer = setTimeout(() => child.kill(), 5_000);
    await exited;
    clearTimeout(killer);
  }
}

console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
if (process.env.BENCH_SKIP_CODEC !== '1') codecBench();
await transportBench();
