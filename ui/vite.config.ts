import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The built UI is embedded into the Tauri app and served from its own origin,
// so asset URLs are relative and nothing is fetched from the network.
export default defineConfig({
  base: './',
  plugins: [svelte()],
  clearScreen: false,
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
});
