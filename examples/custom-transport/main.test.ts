import { expect, it } from 'vitest';
import { main } from './src/main.js';

it('runs the custom transport example: conformance suite, then a 3-node cluster', async () => {
  const lines: string[] = [];
  expect(await main((l) => lines.push(l))).toBeGreaterThanOrEqual(12); // bootstrap + no-op + 10
  expect(lines.filter((l) => l.startsWith('conformance ok: ')).length).toBeGreaterThanOrEqual(7);
});
