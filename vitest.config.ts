import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // examples/ also holds a README.md, so match the examples' config files, not every entry.
    projects: ['packages/*', 'apps/*', 'examples/*/vitest.config.ts'],
  },
});
