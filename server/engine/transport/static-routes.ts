import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { sendError, type HttpRoute } from './http-routes.js';

/** The tree this module runs from: the repository (sources under tsx) or `dist/` (compiled by `npm run build`). */
const TREE = new URL('../../../', import.meta.url);
/** The repository's `dist/`, where the builds write, from either tree. */
const DIST = new URL(TREE.pathname.endsWith('/dist/') ? './' : 'dist/', TREE);
/** Where `vite build` writes the web workbench: `dist/web`. */
export const WORKBENCH_DIR = fileURLToPath(new URL('web/', DIST));
/** Where `npm run build:examples` writes the React example, served at `/examples/react/`. */
export const REACT_EXAMPLE_DIR = fileURLToPath(new URL('examples/react/', DIST));

export type StaticOptions = {
  /** The built workbench's directory. @default WORKBENCH_DIR */
  readonly root?: string;
  /** The built React example's directory. @default REACT_EXAMPLE_DIR */
  readonly reactExampleRoot?: string;
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
 * immutable) bundles; the React example likewise under `/examples/react/`.
 * File names are matched against a strict pattern, so no request can reach
 * outside a build directory.
 */
export function staticRoutes(options: StaticOptions = {}): HttpRoute[] {
  const workbench = siteRoutes({
    prefix: '',
    root: options.root ?? WORKBENCH_DIR,
    notBuilt: {
      code: 'WORKBENCH_NOT_BUILT',
      message: 'The web workbench is not built: run `npm run build:web` (npm start does it)',
    },
  });
  const reactExample = siteRoutes({
    prefix: '/examples/react',
    root: options.reactExampleRoot ?? REACT_EXAMPLE_DIR,
    notBuilt: {
      code: 'EXAMPLE_NOT_BUILT',
      message: 'The React example is not built: run `npm run build:examples` (npm start does it)',
    },
  });
  return [
    ...workbench,
    {
      method: 'GET',
      path: /^\/(?<file>[\w-]+\.(?:svg|png|ico|txt))$/,
      handle: fileRoute(options.root ?? WORKBENCH_DIR, '.', 'public, max-age=3600'),
    },
    ...reactExample,
  ];
}

/** A built single page: its index at `prefix/` (and `prefix/index.html`), its bundles under `prefix/assets/`. */
function siteRoutes(site: {
  readonly prefix: string;
  readonly root: string;
  readonly notBuilt: { readonly code: string; readonly message: string };
}): HttpRoute[] {
  const page: HttpRoute['handle'] = async (_req, res) => {
    const html = await readOrNull(path.join(site.root, 'index.html'));
    if (!html) {
      sendError(res, 503, site.notBuilt.code, site.notBuilt.message);
      return;
    }
    send(res, html, TYPES['.html'] ?? 'text/html', PAGE_HEADERS);
  };
  const index = site.prefix === '' ? ['/'] : [site.prefix, `${site.prefix}/`];
  const escaped = site.prefix.replaceAll('/', '\\/');
  return [
    ...index.map((route): HttpRoute => ({ method: 'GET', path: route, handle: page })),
    { method: 'GET', path: `${site.prefix}/index.html`, handle: page },
    {
      method: 'GET',
      path: new RegExp(`^${escaped}\\/assets\\/(?<file>[\\w-]+(?:\\.[\\w-]+)*)$`),
      handle: fileRoute(site.root, 'assets', 'public, max-age=31536000, immutable'),
    },
  ];
}

function fileRoute(root: string, dir: string, cacheControl: string): HttpRoute['handle'] {
  return async (_req, res, params) => {
    const name = params['file'] ?? '';
    const type = TYPES[path.extname(name)];
    const body = type ? await readOrNull(path.join(root, dir, name)) : null;
    if (!body || !type) {
      sendError(res, 404, 'NOT_FOUND', 'No such file');
      return;
    }
    send(res, body, type, { 'cache-control': cacheControl, 'x-content-type-options': 'nosniff' });
  };
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
