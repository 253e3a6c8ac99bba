import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Tauri serves ui/dist from its own root; the dev server is tauri.conf.json's devUrl.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    // assets/taxonomy.json and assets/boundaries.json live at the repository root
    fs: { allow: ['..'] },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WebKitGTK 2.4x (Linux), WKWebView (iOS 15+), Android System WebView
    target: ['es2021', 'safari15', 'chrome100'],
    // a CSP with img-src data: would allow small inlined images, but keep every asset a file
    assetsInlineLimit: 0,
  },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
  },
});
