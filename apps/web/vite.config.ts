import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The API server (apps/server) listens on 8080 in development; the SPA calls
// /api and /ws on its own origin, so the dev server proxies both.
const API = process.env.STOCK_TRACKER_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  // Pre-bundle the lazy pages' libraries too: discovered late, they would make
  // the dev server re-optimise and reload the page on the first chart visit.
  optimizeDeps: { include: ['lightweight-charts', 'technicalindicators', 'react-dom/client', '@tanstack/react-query', 'react-router-dom'] },
  server: {
    port: 5173,
    proxy: {
      '/api': { target: API, changeOrigin: false },
      '/ws': { target: API.replace(/^http/, 'ws'), ws: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Hashed file names (Vite's default) let the edge cache assets forever.
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      output: {
        // A named chunk for the chart libraries, which only the lazy pages load.
        manualChunks: (id: string) => (/node_modules\/(lightweight-charts|fancy-canvas|technicalindicators)\//.test(id) ? 'charts' : undefined),
      },
    },
  },
});
