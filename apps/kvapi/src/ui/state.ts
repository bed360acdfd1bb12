/**
 * What the page knows about the cluster: the latest status of every member (this node's own
 * and the ones it relays), reachability as seen by the serving node, the event timeline, and
 * rates computed from each node's counters. Views read it; the connection writes it.
 */
import type { ClusterEvent, Hello, Reachability, StatusJson } from '../schema.js';

export type Mode = 'connecting' | 'live' | 'polling' | 'reconnecting' | 'disconnected';

export interface NodeView {
  status: StatusJson | null;
  /** `Date.now()` when `status` arrived. */
  at: number;
  reach: Reachability | null;
  /** Rates from the last two statuses of the same process. */
  writesPerSec: number;
  latencyMs: number | null;
  prev: { uptimeMs: number; writesOk: number; latSum: number } | null;
}

const MAX_EVENTS = 300;

export class ClusterState {
  mode: Mode = 'connecting';
  hello: Hello | null = null;
  readonly nodes = new Map<string, NodeView>();
  readonly events: ClusterEvent[] = [];
  private readonly seen = new Set<string>();
  private listeners: Array<() => void> = [];
  private scheduled = false;

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Coalesces bursts of updates into one render per animation frame (or 100 ms hidden). */
  changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      for (const l of this.listeners) l();
    };
    if (document.hidden) setTimeout(run, 100);
    else requestAnimationFrame(run);
  }

  setMode(m: Mode): void {
    if (this.mode === m) return;
    this.mode = m;
    this.changed();
  }

  setHello(h: Hello): void {
    this.hello = h;
    this.changed();
  }

  get served(): string | null {
    return this.hello?.node ?? null;
  }

  private view(id: string): NodeView {
    let v = this.nodes.get(id);
    if (v === undefined) {
      v = { status: null, at: 0, reach: null, writesPerSec: 0, latencyMs: null, prev: null };
      this.nodes.set(id, v);
    }
    return v;
  }

  status(s: StatusJson): void {
    const v = this.view(s.id);
    const c = s.counters;
    if (v.prev !== null && c.uptimeMs > v.prev.uptimeMs) {
      const dt = (c.uptimeMs - v.prev.uptimeMs) / 1000;
      const dw = c.writesOk - v.prev.writesOk;
      v.writesPerSec = dw / dt;
      v.latencyMs = dw > 0 ? (c.commitLatencyMsSum - v.prev.latSum) / dw : null;
    }
    v.prev = { uptimeMs: c.uptimeMs, writesOk: c.writesOk, latSum: c.commitLatencyMsSum };
    v.status = s;
    v.at = Date.now();
    if (s.id === this.served) v.reach = { id: s.id, reachable: true, since: v.at };
    this.changed();
  }

  reach(r: Reachability): void {
    const v = this.view(r.id);
    v.reach = r;
    if (!r.reachable) {
      v.writesPerSec = 0;
      v.latencyMs = null;
    }
    this.changed();
  }

  event(e: ClusterEvent): void {
    const key = `${e.node}|${e.seq}|${e.at}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.events.push(e);
    this.events.sort((a, b) => a.at - b.at);
    if (this.events.length > MAX_EVENTS) {
      const old = this.events.shift() as ClusterEvent;
      this.seen.delete(`${old.node}|${old.seq}|${old.at}`);
    }
    this.changed();
  }

  /** The member ids to show: the serving node's configuration, plus the serving node. */
  memberIds(): string[] {
    const own = this.served === null ? undefined : this.nodes.get(this.served)?.status;
    const ids = new Set<string>(own?.members.map((m) => m.id) ?? []);
    if (own === undefined) for (const id of this.nodes.keys()) ids.add(id);
    if (this.served !== null) ids.add(this.served);
    return [...ids].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  }

  /** Whether `id` is reachable now, from the serving node's point of view (null = unknown). */
  reachable(id: string): boolean | null {
    if (id === this.served) return this.mode === 'live' || this.mode === 'polling';
    return this.nodes.get(id)?.reach?.reachable ?? null;
  }

  /** The leader: a reachable node that says it leads, at the highest term. */
  leader(): StatusJson | null {
    let best: StatusJson | null = null;
    for (const [id, v] of this.nodes) {
      const s = v.status;
      if (s === null || s.role !== 'leader' || this.reachable(id) === false) continue;
      if (best === null || s.term > best.term) best = s;
    }
    return best;
  }
}
