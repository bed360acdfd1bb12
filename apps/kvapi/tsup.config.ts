import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { main: 'src/main.ts', cluster: 'src/cluster.ts' },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  // dist/ui is tsup.ui.config.ts's output.
  clean: ['!ui/**'],
  target: 'node20',
  platform: 'node',
  banner: { js: '#!/usr/bin/env node' },
});
