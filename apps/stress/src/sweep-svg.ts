/**
 * A small hand-written SVG of the sweep: two panels, entries/s against concurrency and against
 * entry size (both log2 x axes, linear y from 0), one polyline each, with labelled ticks.
 */
import type { Point } from './sweep.js';

const W = 360;
const H = 240;
const PAD = { left: 64, right: 16, top: 28, bottom: 44 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

function short(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}

/** The smallest 1, 2, 2.5 or 5 × 10^k at least `raw`, so the y ticks are round numbers. */
function niceStep(raw: number): number {
  const k = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 2.5, 5, 10].find((m) => m * k >= raw) ?? 10) * k;
}

function sizeLabel(n: number): string {
  return n >= 1024 ? `${n / 1024}K` : String(n);
}

function panel(
  x0: number,
  title: string,
  xs: readonly number[],
  ys: readonly number[],
  xLabel: (x: number) => string,
  color: string,
): string {
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const lx = xs.map((x) => Math.log2(x));
  const minX = Math.min(...lx);
  const maxX = Math.max(...lx);
  const step = niceStep((Math.max(1, ...ys) * 1.05) / 4);
  const maxY = step * 4;
  const px = (v: number): number => x0 + PAD.left + ((v - minX) / Math.max(1e-9, maxX - minX)) * pw;
  const py = (v: number): number => PAD.top + ph - (v / maxY) * ph;
  const pts = xs.map(
    (_, i) => `${px(lx[i] as number).toFixed(1)},${py(ys[i] as number).toFixed(1)}`,
  );
  const out: string[] = [];
  out.push(
    `<text x="${x0 + PAD.left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  );
  for (let t = 0; t <= 4; t++) {
    const v = step * t;
    const y = py(v).toFixed(1);
    out.push(
      `<line x1="${x0 + PAD.left}" x2="${x0 + W - PAD.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
    );
    out.push(
      `<text x="${x0 + PAD.left - 6}" y="${y}" font-size="11" text-anchor="end" dominant-baseline="middle">${short(v)}</text>`,
    );
  }
  for (const [i, x] of xs.entries()) {
    const X = px(lx[i] as number).toFixed(1);
    out.push(
      `<text x="${X}" y="${H - PAD.bottom + 16}" font-size="11" text-anchor="middle">${esc(xLabel(x))}</text>`,
    );
  }
  out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
  for (const p of pts) {
    const [cx, cy] = p.split(',');
    out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
  }
  out.push(
    `<text x="${x0 + PAD.left + pw / 2}" y="${H - 8}" font-size="12" text-anchor="middle">${esc(
      title.includes('size') ? 'entry size (bytes, log scale)' : 'proposals in flight (log scale)',
    )}</text>`,
  );
  return out.join('\n');
}

export function chart(
  byConcurrency: readonly Point[],
  bySize: readonly Point[],
  sizeConcurrency: number,
): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * 2}" height="${H}" viewBox="0 0 ${W * 2} ${H}" font-family="sans-serif">`,
    '<title>stress --sweep: committed entries/s against concurrency and against entry size</title>',
    '<rect width="100%" height="100%" fill="white"/>',
    panel(
      0,
      'entries/s vs concurrency (100 B)',
      byConcurrency.map((p) => p.concurrency),
      byConcurrency.map((p) => p.entriesPerSecond),
      String,
      '#1f77b4',
    ),
    panel(
      W,
      `entries/s vs entry size (concurrency ${sizeConcurrency})`,
      bySize.map((p) => p.size),
      bySize.map((p) => p.entriesPerSecond),
      sizeLabel,
      '#d62728',
    ),
    '</svg>',
    '',
  ].join('\n');
}
