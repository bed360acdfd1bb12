/**
 * The conformance suite every {@link Transport} must pass: plain async checks that throw, with no
 * test-framework import, so any runner can call them (one `it` per case, or
 * `transportConformance` in one go). Waits are bounded polls, never assertions on speed.
 */
import type { Transport } from '../ports.js';
import {
  EntryType,
  MESSAGE_TYPES,
  type Message,
  type NodeId,
  type SnapshotMeta,
} from '../types.js';

/** What a {@link TransportFactory} returns for one case. */
export interface TransportHarness {
  /** One transport per requested id, not started; each must reach the others by id. */
  readonly transports: ReadonlyMap<NodeId, Transport>;
  /**
   * A fresh, unstarted transport for `id` at the same address, made after the suite stopped the
   * previous one (a process restart). Optional: the restart case passes trivially without it.
   */
  restart?(id: NodeId): Promise<Transport>;
  /** Release what the factory made. The suite has already stopped every transport it started. */
  cleanup(): Promise<void>;
}

/** Makes transports for node `ids` that can reach each other. Called once per case. */
export type TransportFactory = (ids: readonly NodeId[]) => Promise<TransportHarness>;

/** One named conformance check. */
export interface TransportConformanceCase {
  /** What the case checks, as a test name. */
  readonly name: string;
  /** Runs it on fresh transports from the factory; rejects with the first violation. */
  readonly run: () => Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Poll interval and the default bound of every wait (generous: machines are noisy). */
const POLL_MS = 5;
const WAIT_MS = 15_000;

function sleep(ms: number): Promise<void> {
  // biome-ignore lint/style/noRestrictedGlobals: the suite waits on real I/O transports; it is not part of the pure core.
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function fail(message: string): never {
  throw new Error(message);
}

/** Poll `cond` until true; fail with `what` after about `ms` milliseconds. */
async function waitFor(cond: () => boolean, what: () => string, ms = WAIT_MS): Promise<void> {
  for (let i = 0; i * POLL_MS < ms; i++) {
    if (cond()) return;
    await sleep(POLL_MS);
  }
  if (!cond()) fail(`timed out after ~${ms} ms waiting for ${what()}`);
}

/** Structural equality: same keys, same primitives, same bytes for every Uint8Array. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length)
      return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (!deepEqual(ka, kb)) return false;
  return ka.every((k) =>
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

function describe(m: Message): string {
  return JSON.stringify(m, (_k, v: unknown) =>
    v instanceof Uint8Array ? `<${v.length} bytes>` : v,
  ).slice(0, 300);
}

/** A started transport and everything its handler received. */
interface Node {
  readonly id: NodeId;
  transport: Transport;
  readonly inbox: Message[];
  /** Handler calls after `stop()` resolved (must stay 0). */
  callsAfterStop: number;
  /** `stop()` was called / has resolved. */
  stopping: boolean;
  stopped: boolean;
}

/** Runs `body` with a fresh harness; always stops every started transport and cleans up. */
async function withHarness(
  factory: TransportFactory,
  ids: readonly NodeId[],
  body: (ctx: {
    harness: TransportHarness;
    start(id: NodeId): Promise<Node>;
    stop(node: Node): Promise<void>;
  }) => Promise<void>,
): Promise<void> {
  const harness = await factory(ids);
  const started: Node[] = [];
  const start = async (id: NodeId): Promise<Node> => {
    const transport = harness.transports.get(id) ?? fail(`factory made no transport for ${id}`);
    const node: Node = {
      id,
      transport,
      inbox: [],
      callsAfterStop: 0,
      stopping: false,
      stopped: false,
    };
    await startNode(node, transport);
    started.push(node);
    return node;
  };
  const stop = async (node: Node): Promise<void> => {
    node.stopping = true;
    await node.transport.stop();
    node.stopped = true;
  };
  try {
    await body({ harness, start, stop });
  } finally {
    for (const node of started) if (!node.stopping) await stop(node).catch(() => {});
    await harness.cleanup();
  }
}

async function startNode(node: Node, transport: Transport): Promise<void> {
  node.transport = transport;
  node.stopping = false;
  node.stopped = false;
  await transport.start((m) => {
    if (node.stopped) node.callsAfterStop++;
    else node.inbox.push(m);
  });
}

/** Every sent message must arrive (duplicates allowed), and nothing else may. */
async function expectReceived(
  node: Node,
  expected: readonly Message[],
  what: string,
): Promise<void> {
  const matched = new Array<boolean>(expected.length).fill(false);
  let checked = 0;
  let left = expected.length;
  const scan = (): boolean => {
    for (; checked < node.inbox.length; checked++) {
      const got = node.inbox[checked]!;
      const i = expected.findIndex((e) => deepEqual(e, got));
      if (i < 0)
        fail(`${node.id} received a message that was never sent (${what}): ${describe(got)}`);
      if (!matched[i]) {
        matched[i] = true;
        left--;
      }
    }
    return left === 0;
  };
  await waitFor(scan, () => {
    const missing = expected.filter((_, i) => !matched[i]);
    return `${node.id} to receive ${what}: ${missing.length} of ${expected.length} missing, e.g. ${describe(missing[0]!)}`;
  });
}

// ---------------------------------------------------------------------------------------------
// Sample messages

const CONF_STATE = {
  voters: ['a', 'b', 'node-3'],
  learners: ['learner-ü', '🦀'],
  votersOutgoing: ['a'],
  learnersNext: [],
  autoLeave: true,
};

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** At least one message of every type from `from` to `to`, with edge values. */
function sampleMessages(from: NodeId, to: NodeId): Message[] {
  const max = Number.MAX_SAFE_INTEGER;
  const meta: SnapshotMeta = { index: 1_000, term: 7, confState: CONF_STATE };
  const base = { from, to };
  const messages: Message[] = [
    { ...base, type: 'MsgApp', term: 1, index: 0, logTerm: 0, entries: [], commit: 0 },
    {
      ...base,
      type: 'MsgApp',
      term: 3,
      index: 10,
      logTerm: 2,
      commit: 9,
      entries: [
        { index: 11, term: 3, type: EntryType.Normal, data: new Uint8Array(0) },
        { index: 12, term: 3, type: EntryType.Normal, data: bytes(100, 1) },
        { index: 13, term: 3, type: EntryType.ConfChange, data: bytes(7, 2) },
      ],
    },
    {
      ...base,
      type: 'MsgApp',
      term: max,
      index: max - 1,
      logTerm: max,
      commit: max,
      entries: [{ index: max, term: max, type: EntryType.Normal, data: bytes(512 * 1024, 3) }],
    },
    { ...base, type: 'MsgAppResp', term: 3, index: 13, reject: false, hintIndex: 0, hintTerm: 0 },
    { ...base, type: 'MsgAppResp', term: 3, index: 10, reject: true, hintIndex: 8, hintTerm: 2 },
    { ...base, type: 'MsgVote', term: 4, index: 13, logTerm: 3, transfer: false },
    { ...base, type: 'MsgVote', term: 5, index: 13, logTerm: 3, transfer: true },
    { ...base, type: 'MsgPreVote', term: 5, index: 2 ** 40, logTerm: 3, transfer: false },
    { ...base, type: 'MsgVoteResp', term: 4, reject: false },
    { ...base, type: 'MsgPreVoteResp', term: 5, reject: true },
    { ...base, type: 'MsgHeartbeat', term: 3, commit: 13, context: 0 },
    { ...base, type: 'MsgHeartbeat', term: 3, commit: 13, context: 42 },
    { ...base, type: 'MsgHeartbeatResp', term: 3, context: 42 },
    {
      ...base,
      type: 'MsgSnap',
      term: 7,
      meta,
      offset: 0,
      totalBytes: 70_000,
      data: bytes(65_536, 4),
      done: false,
    },
    {
      ...base,
      type: 'MsgSnap',
      term: 7,
      meta,
      offset: 65_536,
      totalBytes: 70_000,
      data: bytes(4_464, 5),
      done: true,
    },
    {
      ...base,
      type: 'MsgSnap',
      term: 8,
      meta: {
        index: 0,
        term: 0,
        confState: {
          voters: [],
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
      offset: 0,
      totalBytes: 0,
      data: new Uint8Array(0),
      done: true,
    },
    { ...base, type: 'MsgSnapResp', term: 7, index: 1_000, offset: 65_536, reject: false },
    { ...base, type: 'MsgSnapResp', term: 7, index: 1_000, offset: 0, reject: true },
    { ...base, type: 'MsgTimeoutNow', term: 9 },
    { ...base, type: 'MsgReadIndex', term: 9, context: 7 },
    { ...base, type: 'MsgReadIndexResp', term: 9, context: 7, index: 13, reject: false },
    { ...base, type: 'MsgReadIndexResp', term: 9, context: 8, index: 0, reject: true },
  ];
  return messages;
}

function heartbeat(from: NodeId, to: NodeId, context: number): Message {
  return { type: 'MsgHeartbeat', from, to, term: 1, commit: 0, context };
}

// ---------------------------------------------------------------------------------------------
// Cases

/**
 * `transportConformanceCases` lists the checks a {@link Transport} must pass, for a runner to
 * report one by one (e.g. one vitest `it` per case).
 */
export function transportConformanceCases(factory: TransportFactory): TransportConformanceCase[] {
  return [
    {
      name: 'round-trips every message type field for field',
      run: () =>
        withHarness(factory, ['a', 'b'], async ({ start }) => {
          const [a, b] = [await start('a'), await start('b')];
          const sent = sampleMessages('a', 'b');
          const missing = MESSAGE_TYPES.filter((t) => !sent.some((m) => m.type === t));
          if (missing.length > 0) fail(`suite bug: no sample of ${missing.join(', ')}`);
          // Some one at a time, the rest in one batch.
          for (const m of sent.slice(0, 5)) a.transport.send('b', [m]);
          a.transport.send('b', sent.slice(5));
          await expectReceived(b, sent, 'every message type');
        }),
    },
    {
      name: 'delivers only to the addressee, in every direction',
      run: () =>
        withHarness(factory, ['a', 'b', 'c'], async ({ start }) => {
          const nodes = [await start('a'), await start('b'), await start('c')];
          const expected = new Map<NodeId, Message[]>(nodes.map((n) => [n.id, []]));
          let context = 1;
          for (const from of nodes) {
            for (const to of nodes) {
              if (from === to) continue;
              const batch = Array.from({ length: 20 }, () => heartbeat(from.id, to.id, context++));
              expected.get(to.id)!.push(...batch);
              from.transport.send(to.id, batch);
            }
          }
          for (const n of nodes)
            await expectReceived(n, expected.get(n.id)!, 'messages addressed to it');
          await sleep(50);
          for (const n of nodes) {
            const stray = n.inbox.find((m) => m.to !== n.id);
            if (stray !== undefined) fail(`${n.id} received a message for ${stray.to}`);
          }
        }),
    },
    {
      name: 'send to an unknown or stopped peer neither throws nor breaks other peers',
      run: () =>
        withHarness(factory, ['a', 'b', 'c'], async ({ start, stop }) => {
          const [a, b, c] = [await start('a'), await start('b'), await start('c')];
          await stop(c);
          for (let i = 0; i < 100; i++) {
            a.transport.send('nobody', [heartbeat('a', 'nobody', i)]);
            a.transport.send('c', [heartbeat('a', 'c', i)]);
          }
          a.transport.send('b', []);
          await sleep(100);
          const after = [heartbeat('a', 'b', 1_000)];
          a.transport.send('b', after);
          await expectReceived(b, after, 'a message sent after sends to dead peers');
        }),
    },
    {
      name: 'never calls the handler after stop()',
      run: () =>
        withHarness(factory, ['a', 'b'], async ({ start, stop }) => {
          const [a, b] = [await start('a'), await start('b')];
          let context = 0;
          const burst = (): void => {
            a.transport.send(
              'b',
              Array.from({ length: 50 }, () => heartbeat('a', 'b', context++)),
            );
          };
          burst();
          await waitFor(
            () => b.inbox.length > 0,
            () => 'the first delivery',
          );
          burst();
          const stopping = stop(b);
          burst();
          await stopping;
          for (let i = 0; i < 20; i++) {
            burst();
            await sleep(POLL_MS);
          }
          await sleep(100);
          if (b.callsAfterStop > 0) fail(`handler called ${b.callsAfterStop} times after stop()`);
        }),
    },
    {
      name: 'delivers 10,000 messages sent in bursts',
      run: () =>
        withHarness(factory, ['a', 'b'], async ({ start }) => {
          const [a, b] = [await start('a'), await start('b')];
          const sent: Message[] = [];
          for (let burst = 0; burst < 10; burst++) {
            for (let i = 0; i < 1_000; i++) {
              const n = sent.length;
              const m: Message =
                n % 10 === 0
                  ? {
                      type: 'MsgApp',
                      from: 'a',
                      to: 'b',
                      term: 1,
                      index: n,
                      logTerm: 1,
                      commit: 0,
                      entries: [
                        { index: n + 1, term: 1, type: EntryType.Normal, data: bytes(100, n) },
                      ],
                    }
                  : heartbeat('a', 'b', n);
              sent.push(m);
              // Mostly one message per send; every 100th send carries a batch.
              if (n % 100 !== 99) a.transport.send('b', [m]);
            }
            a.transport.send(
              'b',
              sent.filter((_, n) => n >= burst * 1_000 && n % 100 === 99),
            );
            await sleep(1);
          }
          const ids = new Set<number>();
          const key = (m: Message): number =>
            m.type === 'MsgApp' ? m.index : m.type === 'MsgHeartbeat' ? m.context : -1;
          await waitFor(
            () => {
              for (const m of b.inbox.splice(0)) {
                const k = key(m);
                if (k < 0 || !deepEqual(sent[k], m))
                  fail(`b received a corrupted message: ${describe(m)}`);
                ids.add(k);
              }
              return ids.size === sent.length;
            },
            () => `all 10,000 messages (${ids.size} arrived)`,
          );
        }),
    },
    {
      name: 'stop() resolves and leaves send() harmless',
      run: () =>
        withHarness(factory, ['a', 'b'], async ({ start, stop }) => {
          const [a, b] = [await start('a'), await start('b')];
          a.transport.send('b', [heartbeat('a', 'b', 1)]);
          await expectReceived(b, [heartbeat('a', 'b', 1)], 'a first message');
          let stopped = false;
          const stopping = stop(a).then(() => {
            stopped = true;
          });
          await waitFor(
            () => stopped,
            () => 'stop() to resolve',
          );
          await stopping;
          a.transport.send('b', [heartbeat('a', 'b', 2)]);
          await sleep(50);
          if (b.inbox.some((m) => m.type === 'MsgHeartbeat' && m.context === 2)) {
            fail('a stopped transport still delivered a message');
          }
        }),
    },
    {
      name: 'delivers again after the peer restarts (if the factory supports restart)',
      run: () =>
        withHarness(factory, ['a', 'b'], async ({ harness, start, stop }) => {
          if (harness.restart === undefined) return;
          const [a, b] = [await start('a'), await start('b')];
          a.transport.send('b', [heartbeat('a', 'b', 1)]);
          await expectReceived(b, [heartbeat('a', 'b', 1)], 'a message before the restart');
          await stop(b);
          for (let i = 0; i < 10; i++) a.transport.send('b', [heartbeat('a', 'b', 2)]);
          await startNode(b, await harness.restart('b'));
          // The sender may drop while it reconnects (Raft retries): resend until one arrives.
          let context = 3;
          await waitFor(
            () => {
              a.transport.send('b', [heartbeat('a', 'b', context++)]);
              return b.inbox.some((m) => m.type === 'MsgHeartbeat' && m.context >= 2);
            },
            () => 'a message to the restarted peer',
          );
          // And the restarted node can answer.
          b.transport.send('a', [heartbeat('b', 'a', 1)]);
          await expectReceived(a, [heartbeat('b', 'a', 1)], 'a message from the restarted peer');
        }),
    },
  ];
}

/**
 * `transportConformance` runs every case of {@link transportConformanceCases} in order and
 * throws on the first failure, naming the case.
 */
export async function transportConformance(factory: TransportFactory): Promise<void> {
  for (const c of transportConformanceCases(factory)) {
    try {
      await c.run();
    } catch (cause) {
      throw new Error(
        `transport conformance case "${c.name}" failed: ${(cause as Error)?.message ?? cause}`,
        {
          cause,
        },
      );
    }
  }
}
