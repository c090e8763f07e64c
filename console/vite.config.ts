// The web console's build: TypeScript + Preact (JSX through Vite's own transform, no plugin),
// served by the manager under /console/ (index.html at `/`, see src/manager/http/console.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Modern browsers only (the console is for people running AI platforms): smaller output.
    target: 'es2022',
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
