/**
 * Concurrent KvClients (put, cas and linearizable get on a few keys, unique values) against a
 * 3-process cluster while nodes are killed with SIGKILL and restarted. The history (call/return
 * in this process's clock; unknown outcomes as return = Infinity) must be linearizable.
 * Seeded: SEED=<n> replays the same schedule of operations and faults (timing still varies).
 */
import { checkOperations, type KvOperation, kvModel, Rng } from 'raft-core/testing';
import { KvCasFailedError, KvClient, KvNotAppliedError, KvOutcomeUnknownError } from 'raft-kv';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster, sleep } from './support/cluster.js';

let c: ProcessCluster | undefined;

afterEach(async () => {
  await c?.destroy();
  c = undefined;
});

const SEED = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));
const DURATION_MS = Number(process.env.LIN_DURATION_MS ?? 15_000);
const CLIENTS = 5;
const KEYS = ['a', 'b', 'c'];

async function runClient(
  id: number,
  client: KvClient,
  rng: Rng,
  until: () => boolean,
  history: KvOperation[],
): Promise<void> {
  const seen = new Map<string, string | null>();
  for (let n = 0; until(); n++) {
    const key = rng.pick(KEYS);
    const kind = rng.int(0, 9);
    const call = performance.now();
    if (kind < 4) {
      try {
        const v = (await client.get(key)) ?? null;
        seen.set(key, v);
        history.push({
          clientId: id,
          input: { op: 'get', key },
          output: v,
          call,
          return: performance.now(),
        });
      } catch (e) {
        if (!(e instanceof KvNotAppliedError || e instanceof KvOutcomeUnknownError)) throw e;
        // A failed read had no effect: leave it out.
      }
      continue;
    }
    const value = `c${id}.${n}`;
    if (kind < 7) {
      try {
        await client.put(key, value);
        seen.set(key, value);
        history.push({
          clientId: id,
          input: { op: 'put', key, value },
          output: 'ok',
          call,
          return: performance.now(),
        });
      } catch (e) {
        if (e instanceof KvOutcomeUnknownError) {
          history.push({
            clientId: id,
            input: { op: 'put', key, value },
            output: undefined,
            call,
            return: Infinity,
          });
        } else if (!(e instanceof KvNotAppliedError)) throw e;
      }
      continue;
    }
    const from = seen.get(key) ?? null;
    const input = { op: 'cas', key, from, to: value } as const;
    try {
      await client.cas(key, from, value);
      seen.set(key, value);
      history.push({ clientId: id, input, output: true, call, return: performance.now() });
    } catch (e) {
      if (e instanceof KvCasFailedError) {
        seen.set(key, e.current);
        history.push({ clientId: id, input, output: false, call, return: performance.now() });
      } else if (e instanceof KvOutcomeUnknownError) {
        history.push({ clientId: id, input, output: undefined, call, return: Infinity });
      } else if (!(e instanceof KvNotAppliedError)) throw e;
    }
  }
}

describe('linearizability under crashes', () => {
  it(`concurrent put/get/cas while nodes are killed and restarted stay linearizable (SEED=${SEED})`, async () => {
    const rng = new Rng(SEED);
    c = await ProcessCluster.start();
    const cluster = c;
    const history: KvOperation[] = [];
    const end = Date.now() + DURATION_MS;
    const running = () => Date.now() < end;
    const clients = Array.from({ length: CLIENTS }, (_, i) =>
      runClient(
        i,
        // Client 0 gives up early, so the history also holds writes with unknown outcomes.
        new KvClient({
          endpoints: cluster.urls(cluster.ids),
          timeoutMs: i === 0 ? 800 : 6000,
          attemptTimeoutMs: i === 0 ? 300 : 2000,
        }),
        rng.fork(),
        running,
        history,
      ),
    );
    const nemesis = (async () => {
      const nrng = rng.fork();
      let faults = 0;
      while (running()) {
        await sleep(nrng.int(1500, 3000));
        if (!running()) break;
        const leader = await cluster.waitLeader(undefined, 15_000).catch(() => null);
        const victim = leader !== null && nrng.chance(0.5) ? leader : nrng.pick(cluster.ids);
        await cluster.kill(victim);
        faults++;
        await sleep(nrng.int(500, 2000));
        await cluster.restart(victim);
      }
      return faults;
    })();
    const [faults] = await Promise.all([nemesis, ...clients]);
    const res = checkOperations(kvModel, history, {
      maxSteps: 5_000_000,
      timeoutMs: 60_000,
      now: () => performance.now(),
    });
    const summary = `SEED=${SEED}: ${history.length} operations, ${history.filter((o) => o.return === Infinity).length} unknown, ${faults} kills, checker: ${res.result}`;
    console.log(summary);
    if (res.result === 'illegal') {
      throw new Error(`${summary}\n${res.violations.map((v) => v.message).join('\n')}`);
    }
    expect(res.result, summary).toBe('ok');
    expect(history.filter((o) => o.output !== undefined).length, summary).toBeGreaterThan(50);
  });
});
