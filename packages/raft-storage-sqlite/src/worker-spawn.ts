import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SqliteStorageError } from './errors.js';

/**
 * `spawnStorageWorker` starts the worker thread of {@link SqliteWorkerLogStorage}.
 *
 * - Built package (dist/, what users install): this module is bundled into dist/index.js (or a
 *   chunk beside it), and tsup builds worker.ts into dist/worker.js next to it, so the worker is
 *   `./worker.js` relative to this module's URL. Plain JavaScript: no loader, no flags.
 * - Sources (this repository's tests, benches and `tsx --conditions=@tsraft/source` runs): this
 *   module is src/worker-spawn.ts, so the worker is src/worker.ts, which Node cannot load by
 *   itself. tsx's loader only registers itself on the main thread (Node 20), so a tiny
 *   bootstrap registers tsx's ESM API inside the worker and then imports worker.ts; the worker
 *   also gets the `@tsraft/source` condition so raft-core resolves to its sources (no build).
 */
export function spawnStorageWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./worker.js', here));
  const entry = new URL('./worker.ts', here).href;
  const tsx = tsxEsmApi(here);
  const bootstrap = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, execArgv: ['--conditions=@tsraft/source'] });
}

/** The file URL of tsx's ESM API (`tsx/esm/api`, import condition), resolved from `from`. */
function tsxEsmApi(from: string): string {
  try {
    const pkgJson = createRequire(from).resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as {
      exports: Record<string, { import: { default: string } }>;
    };
    const target = pkg.exports['./esm/api']?.import.default;
    if (target === undefined) throw new Error('tsx has no "./esm/api" export');
    return pathToFileURL(join(dirname(pkgJson), target)).href;
  } catch (e) {
    throw new SqliteStorageError(
      'Io',
      'raft-storage-sqlite runs from its TypeScript sources, so its worker needs tsx (a dev dependency of the repository); build the package or install tsx',
      { cause: e },
    );
  }
}
