import { defineProject } from 'vitest/config';

export default defineProject({
  // Resolve workspace packages to their TypeScript source (the "@tsraft/source" export
  // condition) so tests never need a prior build; the spawned kvapi processes use the same
  // condition through tsx. Setting ssr.resolve.conditions replaces Vite's defaults, hence they
  // are repeated.
  ssr: {
    resolve: { conditions: ['@tsraft/source', 'module', 'node', 'development|production'] },
  },
  test: {
    name: 'kvapi',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Each file spawns its own 3-process cluster; running files one at a time keeps a 2-core
    // machine from starving elections.
    fileParallelism: false,
  },
});
