import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  // Published .d.ts files leave out members marked `@internal` (simulator hooks such as
  // RaftNode._raw or _crash): they are not part of the API and may change in any release.
  dts: { compilerOptions: { stripInternal: true } },
  // Source maps point at the shipped src/ files instead of embedding them (sourcesContent),
  // so the sources are in the tarball once.
  sourcemap: true,
  esbuildOptions(options) {
    options.sourcesContent = false;
  },
  clean: true,
  target: 'node20',
});
