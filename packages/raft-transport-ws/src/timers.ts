/**
 * `Timers` owns every timer and immediate of one transport, so `stop()` can clear them all and
 * `stats().timers` can prove none leaked.
 */
export class Timers {
  private readonly active = new Map<object, 'timeout' | 'interval' | 'immediate'>();

  /** Number of timers and immediates currently pending. */
  get size(): number {
    return this.active.size;
  }

  timeout(fn: () => void, ms: number): object {
    const h = setTimeout(() => {
      this.active.delete(h);
      fn();
    }, ms);
    this.active.set(h, 'timeout');
    return h;
  }

  interval(fn: () => void, ms: number): object {
    const h = setInterval(fn, ms);
    this.active.set(h, 'interval');
    return h;
  }

  immediate(fn: () => void): object {
    const h = setImmediate(() => {
      this.active.delete(h);
      fn();
    });
    this.active.set(h, 'immediate');
    return h;
  }

  clear(h: object | null): void {
    if (h === null) return;
    const kind = this.active.get(h);
    if (kind === undefined) return;
    this.active.delete(h);
    if (kind === 'immediate') clearImmediate(h as NodeJS.Immediate);
    else clearTimeout(h as NodeJS.Timeout);
  }

  clearAll(): void {
    for (const h of [...this.active.keys()]) this.clear(h);
  }
}
