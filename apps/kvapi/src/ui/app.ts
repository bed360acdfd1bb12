/**
 * The kvapi dashboard (served at /ui): wires the live connection to the views. Everything it
 * shows comes from `/events` (or `/status` when polling); everything it does goes through the
 * public HTTP API.
 */

import { Cards } from './cards.js';
import { connect } from './connection.js';
import { askToken } from './dialogs.js';
import { renderTransferTargets, wireAdmin, wireKeys } from './forms.js';
import { ClusterState } from './state.js';
import { renderTimeline, Spark } from './timeline.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function main(): void {
  const state = new ClusterState();
  const actions = wireAdmin(state);
  wireKeys();
  const cards = new Cards($('cards'), actions);
  const conn = $('conn');
  $('token-btn').addEventListener('click', () => void askToken(true));

  state.onChange(() => {
    conn.dataset.state = state.mode;
    conn.textContent = state.mode;
    $('served-by').textContent = state.served ?? '?';
    const leader = state.leader();
    $('summary').textContent =
      leader === null ? '(no leader known)' : `(leader ${leader.id}, term ${leader.term})`;
    cards.render(state);
    renderTransferTargets(state);
    renderTimeline($('timeline'), state);
  });

  const svg = (id: string): SVGSVGElement =>
    document.getElementById(id) as unknown as SVGSVGElement;
  const writes = new Spark(svg('s-writes'), $('v-writes'), (v) => v.toFixed(1));
  const latency = new Spark(svg('s-latency'), $('v-latency'), (v) => v.toFixed(1));
  const applied = new Spark(svg('s-applied'), $('v-applied'), (v) => v.toFixed(1));
  let prevApplied: { index: number; at: number } | null = null;
  setInterval(() => {
    let w = 0;
    let latSum = 0;
    let latN = 0;
    for (const [id, v] of state.nodes) {
      if (state.reachable(id) === false || v.status === null) continue;
      w += v.writesPerSec;
      if (v.latencyMs !== null) {
        latSum += v.latencyMs * v.writesPerSec;
        latN += v.writesPerSec;
      }
    }
    writes.push(w);
    latency.push(latN > 0 ? latSum / latN : null);
    const leader = state.leader();
    const now = performance.now();
    if (leader !== null) {
      const rate =
        prevApplied === null
          ? null
          : ((leader.appliedIndex - prevApplied.index) * 1000) / (now - prevApplied.at);
      applied.push(rate !== null && rate >= 0 ? rate : null);
      prevApplied = { index: leader.appliedIndex, at: now };
    } else {
      applied.push(null);
      prevApplied = null;
    }
  }, 1000);

  connect(state);
}

main();
