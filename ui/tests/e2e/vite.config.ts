// Builds the UI with the fake shell (tests/e2e/install.ts) for the
// Playwright tests. The production build (../../vite.config.ts) never sees it.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const here = new URL('.', import.meta.url).pathname;

export default defineConfig({
  root: here,
  base: './',
  publicDir: false,
  logLevel: 'warn',
  plugins: [svelte({ configFile: new URL('../../svelte.config.js', import.meta.url).pathname })],
  build: {
    outDir: new URL('../../test-results/dist-e2e', import.meta.url).pathname,
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
