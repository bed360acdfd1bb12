/** The README's quick start is examples/quick-start.ts; this runs it and checks they agree. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../examples/quick-start.js';

describe('README quick start', () => {
  it('runs', async () => {
    const lines: string[] = [];
    await main((l) => lines.push(l));
    expect(lines).toEqual([
      'cas swapped: true, was blue',
      'follower reads green',
      'retry duplicate: true',
      'list: config/color=green',
    ]);
  });

  it('is copied verbatim into the README', () => {
    const example = readFileSync(new URL('../examples/quick-start.ts', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const body = example.slice(0, example.indexOf('\nif (import.meta.url')).trim();
    expect(readme).toContain(body);
  });
});
