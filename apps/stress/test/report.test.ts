import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../src/chaos/history.js';
import { availabilityPlot } from '../src/chaos/report.js';

describe('availabilityPlot', () => {
  it('plots a long run (400,000 events, more than a call can take as arguments)', () => {
    const events: HistoryEvent[] = [];
    for (let i = 0; i < 200_000; i++) {
      const time = i * 1.5; // 300 s
      events.push({ type: 'invoke', process: i % 5, f: 'get', key: 'k', node: 'n1', time });
      events.push({ type: i % 10 === 0 ? 'fail' : 'ok', process: i % 5, f: 'get', key: 'k', time });
    }
    events.push({ type: 'info', process: 'nemesis', f: 'kill', value: 'n1', time: 100_000 });
    events.push({ type: 'info', process: 'nemesis', f: 'heal', value: 'kill', time: 110_000 });
    const plot = availabilityPlot(events).split('\n');
    // 300 s in 100 columns of 3 s: 600 ok/s at full height in every column.
    expect(plot[0]).toMatch(/^\s+600 \|#{100}$/);
    expect(plot.join('\n')).toContain('k');
  });
});
