/**
 * The receiving process of ws.bench.ts: a WsTransport that counts what it is handed and reports
 * over the IPC channel. Usage: spawned by ws.bench.ts with argv [senderAddress].
 */
import type { Message } from 'raft-core';
import { WsTransport } from '../src/index.js';

const senderAddress = process.argv[2];
if (senderAddress === undefined || process.send === undefined) {
  console.error('ws-receiver: run me from ws.bench.ts');
  process.exit(2);
}

/** Messages by type (a row counts only its own type: leftovers of the previous row may still arrive). */
const byType: Record<string, number> = {};
let entries = 0;
let payloadBytes = 0;
const t = new WsTransport({
  nodeId: 'receiver',
  clusterId: 'bench',
  listen: '127.0.0.1:0',
  secret: 'bench secret',
  peers: { sender: senderAddress },
});
await t.start((m: Message) => {
  byType[m.type] = (byType[m.type] ?? 0) + 1;
  if (m.type === 'MsgApp') {
    entries += m.entries.length;
    for (const e of m.entries) payloadBytes += e.data.length;
  }
});

process.on('message', async (cmd: { cmd: 'count' | 'stop' }) => {
  if (cmd.cmd === 'count') {
    const cpu = process.cpuUsage();
    process.send!({
      byType,
      entries,
      payloadBytes,
      wireBytes: t.stats().bytesReceived,
      cpuMs: (cpu.user + cpu.system) / 1_000,
    });
  } else {
    await t.stop();
    process.disconnect();
  }
});
process.send({ port: t.address().port });
