/**
 * The pure core (everything in src/ except the driver — node.ts and driver/ — and the testing tools) imports
 * nothing from Node and reads no clock or randomness of its own. Biome's restricted
 * imports/globals catch most of it; this also catches what Biome cannot express (Math.random).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const FORBIDDEN: [RegExp, string][] = [
  [/from\s+['"]node:/, 'imports a Node module'],
  [/\bMath\.random\b/, 'uses Math.random (inject Config.random)'],
  [/\bDate\b/, 'reads the clock'],
  [/\bperformance\./, 'reads the clock'],
  [/\bset(Timeout|Interval|Immediate)\b/, 'uses timers (Clock belongs to the driver)'],
  [/\bprocess\./, 'touches the process'],
  [/\bconsole\./, 'logs to the console (use Config.logger)'],
  [/\basync\s/, 'is async (only node.ts may be)'],
];

describe('pure core', () => {
  const core = files(SRC).filter((f) => {
    const r = relative(SRC, f);
    return (
      r !== 'node.ts' &&
      !r.startsWith('driver') &&
      !r.startsWith('testing') &&
      !r.endsWith('.test.ts')
    );
  });

  it('has files to check', () => {
    expect(core.length).toBeGreaterThan(10);
  });

  for (const f of core) {
    it(`${relative(SRC, f)} does no I/O, reads no clock, draws no randomness`, () => {
      // Strip comments so that prose about Date or timers does not count.
      const code = readFileSync(f, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      for (const [re, why] of FORBIDDEN) {
        // ports.ts declares the Clock interface's setInterval/clearInterval methods (types only).
        const target =
          relative(SRC, f) === 'ports.ts'
            ? code.replace(/^\s*(set|clear)Interval\(.*$/gm, '')
            : code;
        expect(re.test(target), `${relative(SRC, f)} ${why}`).toBe(false);
      }
    });
  }
});
