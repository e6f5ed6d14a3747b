import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'vite';

import { REACT_EXAMPLE_DIR, WORKBENCH_DIR } from '../../server/engine/transport/static-routes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Builds the workbench when dist/web is missing or older than its sources (a fresh clone, or edited code). */
export function ensureWorkbenchBuilt(): Promise<void> {
  return ensureBuilt({
    configFile: path.join(ROOT, 'vite.config.ts'),
    outDir: WORKBENCH_DIR,
    sources: ['web', 'client', 'shared', 'vite.config.ts'],
  });
}

/** Builds the React example likewise (dist/examples/react). */
export function ensureReactExampleBuilt(): Promise<void> {
  return ensureBuilt({
    configFile: path.join(ROOT, 'examples/react/vite.config.ts'),
    outDir: REACT_EXAMPLE_DIR,
    sources: ['examples/react', 'client', 'shared'],
  });
}

async function ensureBuilt(site: {
  readonly configFile: string;
  readonly outDir: string;
  /** What the bundle is made from, relative to the repository. */
  readonly sources: readonly string[];
}): Promise<void> {
  const builtAt = await stat(path.join(site.outDir, 'index.html')).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const newest = Math.max(...(await Promise.all(site.sources.map((p) => newestChange(path.join(ROOT, p))))));
  if (builtAt > newest) return;
  await build({ configFile: site.configFile, logLevel: 'warn' });
}

async function newestChange(file: string): Promise<number> {
  const info = await stat(file);
  if (!info.isDirectory()) return info.mtimeMs;
  // A build inside the sources (the client package's) is no source.
  const children = (await readdir(file)).filter((child) => child !== 'dist');
  return Math.max(
    info.mtimeMs,
    ...(await Promise.all(children.map((child) => newestChange(path.join(file, child))))),
  );
}
