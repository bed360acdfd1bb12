/**
 * Leadership-transfer promises of the driver: each resolves when its target is seen as leader
 * and is rejected `Timeout` at its deadline — exactly once either way.
 */
import { RaftError } from '../errors.js';
import type { NodeId } from '../types.js';

interface TransferWaiter {
  readonly target: NodeId;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export class TransferTracker {
  private waiters: TransferWaiter[] = [];

  add(target: NodeId, deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ target, deadline, resolve, reject });
    });
  }

  /** A leader is known: transfers to it are done. */
  leaderIs(leader: NodeId): void {
    if (this.waiters.length === 0) return;
    const keep: TransferWaiter[] = [];
    for (const w of this.waiters) {
      if (w.target === leader) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  expire(now: number): void {
    if (this.waiters.length === 0) return;
    const keep: TransferWaiter[] = [];
    for (const w of this.waiters) {
      if (w.deadline > now) keep.push(w);
      else
        w.reject(new RaftError('Timeout', `leadership transfer to ${w.target} did not complete`));
    }
    this.waiters = keep;
  }

  failAll(reason: Error): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) w.reject(reason);
  }

  get size(): number {
    return this.waiters.length;
  }
}
