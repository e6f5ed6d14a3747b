/**
 * Builds the React example (this directory) into dist/examples/react, which
 * the server serves at `/examples/react/`. It imports the client package by
 * its name, as an application would; here the names lead to its sources.
 */
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vite';

const source = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export default defineConfig({
  root: source('./'),
  base: '/examples/react/',
  logLevel: 'warn',
  resolve: {
    alias: [
      { find: /^@pet-stream\/client\/react$/, replacement: source('../../client/react.ts') },
      { find: /^@pet-stream\/client$/, replacement: source('../../client/index.ts') },
    ],
  },
  build: {
    outDir: source('../../dist/examples/react'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
});
