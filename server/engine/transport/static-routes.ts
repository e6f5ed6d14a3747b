import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { sendError, type HttpRoute } from './http-routes.js';

/** The tree this module runs from: the repository (sources under tsx) or `dist/` (compiled by `npm run build`). */
const TREE = new URL('../../../', import.meta.url);
/** Where `vite build` writes the web workbench: `dist/web` at the repository root, beside the compiled server. */
export const WORKBENCH_DIR = fileURLToPath(
  new URL(TREE.pathname.endsWith('/dist/') ? 'web/' : 'dist/web/', TREE),
);

export type StaticOptions = {
  /** The built workbench's directory. @default WORKBENCH_DIR */
  readonly root?: string;
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const PAGE_HEADERS: http.OutgoingHttpHeaders = {
  // The page loads only its own scripts and styles and talks only to its own server.
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * The web workbench: `/` serves its page, `/assets/*` its hashed (hence
 * immutable) bundles. File names are matched against a strict pattern, so
 * no request can reach outside the build directory.
 */
export function staticRoutes(options: StaticOptions = {}): HttpRoute[] {
  const root = options.root ?? WORKBENCH_DIR;
  const page: HttpRoute['handle'] = async (_req, res) => {
    const html = await readOrNull(path.join(root, 'index.html'));
    if (!html) {
      sendError(
        res,
        503,
        'WORKBENCH_NOT_BUILT',
        'The web workbench is not built: run `npm run build:web` (npm start does it)',
      );
      return;
    }
    send(res, html, TYPES['.html'] ?? 'text/html', PAGE_HEADERS);
  };
  const file =
    (dir: string, cacheControl: string): HttpRoute['handle'] =>
    async (_req, res, params) => {
      const name = params['file'] ?? '';
      const type = TYPES[path.extname(name)];
      const body = type ? await readOrNull(path.join(root, dir, name)) : null;
      if (!body || !type) {
        sendError(res, 404, 'NOT_FOUND', 'No such file');
        return;
      }
      send(res, body, type, { 'cache-control': cacheControl, 'x-content-type-options': 'nosniff' });
    };
  return [
    { method: 'GET', path: '/', handle: page },
    { method: 'GET', path: '/index.html', handle: page },
    {
      method: 'GET',
      path: /^\/assets\/(?<file>[\w-]+(?:\.[\w-]+)*)$/,
      handle: file('assets', 'public, max-age=31536000, immutable'),
    },
    {
      method: 'GET',
      path: /^\/(?<file>[\w-]+\.(?:svg|png|ico|txt))$/,
      handle: file('.', 'public, max-age=3600'),
    },
  ];
}

function send(res: http.ServerResponse, body: Buffer, type: string, headers: http.OutgoingHttpHeaders): void {
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, ...headers });
  res.end(body);
}

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch {
    return null;
  }
}
