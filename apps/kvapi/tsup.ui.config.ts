import { defineConfig } from 'tsup';

// The dashboard served at /ui: one browser bundle plus the static HTML and CSS, into dist/ui
// (tsup.config.ts leaves that folder alone when it cleans dist).
export default defineConfig({
  entry: { app: 'src/ui/app.ts' },
  outDir: 'dist/ui',
  format: ['iife'],
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  clean: true,
  publicDir: 'src/ui/static',
  outExtension: () => ({ js: '.js' }),
});
