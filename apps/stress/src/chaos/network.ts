/**
 * `Network` is the mesh of {@link LinkProxy}s between N nodes: one proxy per ordered pair
 * (`a` dials `b` through proxy `a>b`). It speaks in flows — "bytes from `src` to `dst`" —
 * which touch two proxies: the `forward` direction of `src>dst` (what `src` sends on its own
 * link) and the `backward` direction of `dst>src` (what `src` answers on `dst`'s link).
 */
import { LinkProxy } from './proxy.js';

export type FlowFault = { mode: 'drop' | 'cut' } | { mode: 'delay'; ms: number; jitterMs: number };

export class Network {
  private readonly links = new Map<string, LinkProxy>();

  private constructor(readonly ids: readonly string[]) {}

  /** Starts a proxy for every ordered pair, each relaying to the target's real peer port. */
  static async start(
    ids: readonly string[],
    peerPort: (id: string) => number,
    random: () => number,
  ): Promise<Network> {
    const n = new Network(ids);
    try {
      for (const a of ids) {
        for (const b of ids) {
          if (a === b) continue;
          const p = new LinkProxy(a, b, peerPort(b));
          n.links.set(`${a}>${b}`, p);
          await p.listen(0, random);
        }
      }
    } catch (e) {
      await n.close();
      throw e;
    }
    return n;
  }

  /** The port node `from` dials to reach node `to`. */
  port(from: string, to: string): number {
    return this.link(from, to).port;
  }

  private link(a: string, b: string): LinkProxy {
    const l = this.links.get(`${a}>${b}`);
    if (l === undefined) throw new Error(`no link ${a}>${b}`);
    return l;
  }

  /** Applies `f` to every byte flowing from `src` to `dst`. */
  flow(src: string, dst: string, f: FlowFault): void {
    const d =
      f.mode === 'delay'
        ? { mode: 'ok' as const, delayMs: f.ms, jitterMs: f.jitterMs }
        : { mode: f.mode, delayMs: 0, jitterMs: 0 };
    this.link(src, dst).set('forward', d);
    this.link(dst, src).set('backward', d);
  }

  /** Cuts (or black-holes) every flow between different groups, both ways. */
  partition(groups: readonly (readonly string[])[], mode: 'drop' | 'cut'): void {
    for (const [i, g] of groups.entries()) {
      for (const [j, h] of groups.entries()) {
        if (i === j) continue;
        for (const a of g) for (const b of h) this.flow(a, b, { mode });
      }
    }
  }

  /** Every link healthy again; connections that lost bytes are reset. */
  heal(): void {
    for (const l of this.links.values()) l.heal();
  }

  isHealthy(): boolean {
    return [...this.links.values()].every((l) => l.isHealthy());
  }

  stats(): { relayed: number; dropped: number; resets: number } {
    const s = { relayed: 0, dropped: 0, resets: 0 };
    for (const l of this.links.values()) {
      s.relayed += l.stats.relayed;
      s.dropped += l.stats.dropped;
      s.resets += l.stats.resets;
    }
    return s;
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }
}
