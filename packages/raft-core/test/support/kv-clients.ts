import { RaftError } from '../../src/errors.js';
import { checkOperations } from '../../src/testing/linearizability/checker.js';
import { type KvOperation, kvModel } from '../../src/testing/linearizability/kv-model.js';
import type { Rng } from '../../src/testing/rng.js';
import { encodeKvCommand, type SimCluster } from '../../src/testing/sim-cluster.js';
import type { NodeId } from '../../src/types.js';

/** Errors after which a write definitely did not (and will never) take effect. */
const DEFINITE = new Set([
  'NotLeader',
  'ProposalDropped',
  'LeadershipTransferInProgress',
  'ConfChangeInProgress',
]);

export interface KvClientsOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  /** Think time between a client's operations, in simulated ms. */
  readonly thinkMs: readonly [number, number];
  /** Where clients send requests: any live node (default), or only `targets()`. */
  readonly targets?: () => readonly NodeId[];
}

/**
 * `KvClients` runs concurrent clients against a SimCluster — put, cas and linearizable get
 * (ReadIndex) on a few keys, each client one operation at a time — and records the history
 * (call/return in simulated ms) for the linearizability checker. Writes whose outcome is
 * unknown (node crashed, timed out) are recorded with `return: Infinity`.
 */
export class KvClients {
  readonly history: KvOperation[] = [];
  private readonly inflight = new Map<number, KvOperation>();
  private stopped = false;
  completed = 0;

  constructor(
    private readonly c: SimCluster,
    private readonly rng: Rng,
    private readonly opts: KvClientsOptions,
  ) {}

  start(): void {
    for (let id = 0; id < this.opts.clients; id++)
      this.c.schedule(this.rng.int(0, 10), () => this.next(id, 0));
  }

  stop(): void {
    this.stopped = true;
  }

  /** Each client's last target: real clients cache "the leader" and keep using it. */
  private readonly sticky = new Map<number, NodeId>();

  private pickTarget(client: number): NodeId | null {
    const pool = (this.opts.targets?.() ?? this.c.ids).filter((id) => this.c.isAlive(id));
    if (pool.length === 0) return null;
    const last = this.sticky.get(client);
    if (last !== undefined && pool.includes(last) && this.rng.chance(0.4)) return last;
    const leader = this.c.leader(pool);
    return leader !== null && this.rng.chance(0.6) ? leader : this.rng.pick(pool);
  }

  private next(client: number, seq: number): void {
    if (this.stopped) return;
    const target = this.pickTarget(client);
    if (target !== null) this.sticky.set(client, target);
    const again = (): void => {
      this.inflight.delete(client);
      const [lo, hi] = this.opts.thinkMs;
      this.c.schedule(this.rng.int(lo, hi), () => this.next(client, seq + 1));
    };
    if (target === null) {
      again();
      return;
    }
    const key = this.rng.pick(this.opts.keys);
    const call = this.c.now;
    const kind = this.rng.int(0, 9);
    if (kind < 4) {
      const op: KvOperation = {
        clientId: client,
        input: { op: 'get', key },
        output: undefined,
        call,
        return: Number.POSITIVE_INFINITY,
      };
      void this.c.get(target, key).then((r) => {
        // A failed read had no effect: leave it out of the history.
        if (r.ok) this.record({ ...op, output: r.value, return: this.c.now });
        again();
      });
      return;
    }
    const value = `c${client}.${seq}`;
    const input =
      kind < 7
        ? ({ op: 'put', key, value } as const)
        : ({ op: 'cas', key, from: this.c.localValue(target, key), to: value } as const);
    const pending = {
      clientId: client,
      input,
      output: undefined,
      call,
      return: Number.POSITIVE_INFINITY,
    } as KvOperation;
    this.inflight.set(client, pending);
    void this.c.propose(target, encodeKvCommand(input)).then((r) => {
      if (r.ok) {
        this.record({ ...pending, output: r.value, return: this.c.now } as KvOperation);
      } else if (!(RaftError.isInstance(r.error) && DEFINITE.has(r.error.code))) {
        // Crashed, stopped or timed out: it may or may not have been applied.
        this.record(pending);
      }
      again();
    });
  }

  private record(op: KvOperation): void {
    this.history.push(op);
    this.completed++;
  }

  /** Adds still-unanswered writes as unknown outcomes and checks the history. */
  check(): { ok: true; ops: number } | { ok: false; message: string } {
    for (const op of this.inflight.values()) this.history.push(op);
    this.inflight.clear();
    const res = checkOperations(kvModel, this.history, { maxSteps: 2_000_000 });
    if (res.result === 'illegal') {
      return { ok: false, message: res.violations.map((v) => v.message).join('\n') };
    }
    if (res.result === 'unknown') {
      return {
        ok: false,
        message: `the checker gave up (${res.reason}) on ${this.history.length} operations`,
      };
    }
    return { ok: true, ops: this.history.length };
  }
}
