/** The event timeline (newest first) and the sparklines. */
import type { ClusterEvent } from '../schema.js';
import type { ClusterState } from './state.js';

const MAX_ROWS = 200;

function label(e: ClusterEvent): string {
  return e.kind === 'election' && e.reason !== undefined ? `election: ${e.reason}` : e.kind;
}

export function renderTimeline(host: HTMLElement, state: ClusterState): void {
  const rows = state.events.slice(-MAX_ROWS).reverse();
  const first = host.firstElementChild as HTMLElement | null;
  if (first !== null && rows[0] !== undefined && first.dataset.key === keyOf(rows[0])) {
    if (host.childElementCount === rows.length) return;
  }
  const frag = document.createDocumentFragment();
  for (const e of rows) {
    const li = document.createElement('li');
    li.dataset.kind = e.kind;
    li.dataset.key = keyOf(e);
    if (e.reason !== undefined) li.dataset.reason = e.reason;
    const cell = (cls: string, text: string): void => {
      const s = document.createElement('span');
      s.className = cls;
      s.textContent = text;
      li.append(s);
    };
    cell('t', new Date(e.at).toLocaleTimeString([], { hour12: false }));
    cell('n', `seen by ${e.node}`);
    cell('k', label(e));
    cell('x', /\bterm\b/.test(e.text) ? e.text : `${e.text} (term ${e.term})`);
    frag.append(li);
  }
  host.replaceChildren(frag);
}

function keyOf(e: ClusterEvent): string {
  return `${e.node}|${e.seq}|${e.at}`;
}

/** A fixed-length series of samples drawn as an SVG polyline. */
export class Spark {
  private readonly points: number[] = [];

  constructor(
    private readonly svg: SVGSVGElement,
    private readonly value: HTMLElement,
    private readonly unit: (v: number) => string,
    private readonly size = 60,
  ) {}

  push(v: number | null): void {
    this.points.push(v ?? Number.NaN);
    if (this.points.length > this.size) this.points.shift();
    const finite = this.points.filter((p) => Number.isFinite(p));
    const max = Math.max(1e-9, ...finite);
    const w = 240;
    const h = 48;
    const step = w / (this.size - 1);
    const offset = this.size - this.points.length;
    const coords = this.points
      .map((p, i) =>
        Number.isFinite(p)
          ? `${((offset + i) * step).toFixed(1)},${(h - 2 - (p / max) * (h - 6)).toFixed(1)}`
          : '',
      )
      .filter((c) => c !== '')
      .join(' ');
    let line = this.svg.querySelector('polyline');
    if (line === null) {
      line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      this.svg.append(line);
    }
    line.setAttribute('points', coords);
    this.value.textContent = v === null || !Number.isFinite(v) ? '–' : this.unit(v);
  }
}
