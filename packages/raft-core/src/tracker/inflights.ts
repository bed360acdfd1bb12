import { panic } from '../errors.js';
import type { Index } from '../types.js';

/**
 * `Inflights` bounds the MsgApps sent to one follower but not yet acknowledged, by count and by
 * bytes (flow control for pipelined replication). It is a FIFO of (last index, bytes) pairs.
 *
 * Invariant: indexes are strictly increasing from `start` to the newest element.
 */
export class Inflights {
  private readonly indexes: Index[] = [];
  private readonly sizes: number[] = [];
  private start = 0;
  private bytesInFlight = 0;

  constructor(
    readonly maxCount: number,
    /** 0 means no byte limit. */
    readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.indexes.length - this.start;
  }

  get bytes(): number {
    return this.bytesInFlight;
  }

  /** Records a MsgApp whose last entry is `index` and whose entries total `bytes`. */
  add(index: Index, bytes: number): void {
    if (this.full()) panic('cannot add into a full inflights');
    const n = this.indexes.length;
    if (n > this.start && (this.indexes[n - 1] as number) >= index) {
      panic(`inflights: index ${index} not above ${this.indexes[n - 1]}`);
    }
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.bytesInFlight += bytes;
  }

  /** Frees every MsgApp whose last index is ≤ `index` (acknowledged). */
  freeLE(index: Index): void {
    let s = this.start;
    const n = this.indexes.length;
    while (s < n && (this.indexes[s] as number) <= index) {
      this.bytesInFlight -= this.sizes[s] as number;
      s++;
    }
    this.start = s;
    if (s === n) {
      this.indexes.length = 0;
      this.sizes.length = 0;
      this.start = 0;
    } else if (s > 1024 && s * 2 > n) {
      this.indexes.splice(0, s);
      this.sizes.splice(0, s);
      this.start = 0;
    }
  }

  /** Frees the oldest MsgApp (used when it may have been lost). */
  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.start] as Index);
  }

  /** True when no more MsgApps may be sent until some are acknowledged. */
  full(): boolean {
    return (
      this.count >= this.maxCount || (this.maxBytes > 0 && this.bytesInFlight >= this.maxBytes)
    );
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.start = 0;
    this.bytesInFlight = 0;
  }
}
