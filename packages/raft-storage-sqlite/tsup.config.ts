import { defineConfig } from 'tsup';

export default defineConfig({
  // worker.ts is the entry of SqliteWorkerLogStorage's thread; it must land beside index.js as
  // dist/worker.js (see src/worker-spawn.ts). It has no types of its own (not an export).
  entry: { index: 'src/index.ts', worker: 'src/worker.ts' },
  format: ['esm'],
  // Published .d.ts files leave out members marked `@internal` (simulator hooks such as
  // RaftNode._raw or _crash): they are not part of the API and may change in any release.
  dts: { entry: { index: 'src/index.ts' }, compilerOptions: { stripInternal: true } },
  // Source maps point at the shipped src/ files instead of embedding them (sourcesContent),
  // so the sources are in the tarball once.
  sourcemap: true,
  esbuildOptions(options) {
    options.sourcesContent = false;
  },
  clean: true,
  target: 'node20',
});
