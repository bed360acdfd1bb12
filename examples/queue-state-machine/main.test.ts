import { expect, it } from 'vitest';
import { main } from './src/main.js';

it('runs the queue example: a late node catches up from a snapshot', async () => {
  const lines: string[] = [];
  const late = await main((l) => lines.push(l));
  expect(lines.slice(0, 3)).toEqual(['popped job-1', 'popped job-2', 'popped job-3']);
  expect(late.restored).toBeGreaterThanOrEqual(1);
  expect(late.jobs).toEqual(Array.from({ length: 28 }, (_, i) => `job-${i + 4}`));
});
