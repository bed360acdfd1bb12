import { expect, it } from 'vitest';
import { main } from './src/main.js';

it('runs the single-node example to completion and recovers after restart', async () => {
  const lines: string[] = [];
  expect(await main((l) => lines.push(l))).toBe(28);
  expect(lines.at(-1)).toBe('after restart the counter is 28');
});
