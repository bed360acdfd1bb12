import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MUTATIONS } from '../scripts/mutation-list.js';

/**
 * Every mutation of the simulation's mutation check still applies: each pattern occurs exactly
 * once in its file. A refactor that rewrites the code a mutation patches would otherwise make
 * the check skip that bug, and the table in docs/testing.md would stop meaning anything.
 */
describe('mutation list', () => {
  it.each(MUTATIONS.map((m) => [m.name, m] as const))('%s still applies', (_, m) => {
    const src = readFileSync(join(import.meta.dirname, '..', m.file), 'utf8');
    for (const e of [{ from: m.from, to: m.to }, ...(m.also ?? [])]) {
      expect(src.split(e.from).length - 1, `${m.file}: ${e.from}`).toBe(1);
      expect(e.to).not.toBe(e.from);
    }
  });
});
