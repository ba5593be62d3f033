import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The built UI is embedded into the Tauri app and served from its own origin,
// so asset URLs are relative and nothing is fetched from the network.
export default defineConfig(({ mode }) => ({
  base: './',
  plugins: [svelte()],
  clearScreen: false,
  // Under Vitest, use Svelte's client build so runes behave as in the app.
  resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
  server: {
    port: 5173,
    strictPort: true,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'safari15',
    // Inline nothing as data: URLs for scripts; keep assets as files under the CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
}));
