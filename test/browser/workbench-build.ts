import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'vite';

import { WORKBENCH_DIR } from '../../server/engine/transport/static-routes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What the workbench bundle is made from. */
const SOURCES = ['web', 'client', 'shared', 'vite.config.ts'].map((p) => path.join(ROOT, p));

/** Builds the workbench when dist/web is missing or older than its sources (a fresh clone, or edited code). */
export async function ensureWorkbenchBuilt(): Promise<void> {
  const builtAt = await stat(path.join(WORKBENCH_DIR, 'index.html')).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const newest = Math.max(...(await Promise.all(SOURCES.map(newestChange))));
  if (builtAt > newest) return;
  await build({ configFile: path.join(ROOT, 'vite.config.ts'), logLevel: 'warn' });
}

async function newestChange(file: string): Promise<number> {
  const info = await stat(file);
  if (!info.isDirectory()) return info.mtimeMs;
  const children = await readdir(file);
  return Math.max(
    info.mtimeMs,
    ...(await Promise.all(children.map((child) => newestChange(path.join(file, child))))),
  );
}
