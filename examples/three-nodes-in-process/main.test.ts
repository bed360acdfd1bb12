import { expect, it } from 'vitest';
import { main } from './src/main.js';

it('runs the three-node example to completion', async () => {
  const lines: string[] = [];
  const data = await main((l) => lines.push(l));
  expect(data.get('greeting')).toBe('hola');
  expect(lines.some((l) => l.startsWith('leadership transferred'))).toBe(true);
});
