import { defineProject } from 'vitest/config';

export default defineProject({
  // Resolve workspace packages to their TypeScript source (the "@tsraft/source" export
  // condition) so tests never need a prior build. Vitest runs tests in Vite's SSR environment,
  // so this must be ssr.resolve.conditions; setting it replaces Vite's defaults, hence they are
  // repeated.
  ssr: {
    resolve: { conditions: ['@tsraft/source', 'module', 'node', 'development|production'] },
  },
  test: {
    name: 'example-readmes',
    include: ['*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
  },
});
