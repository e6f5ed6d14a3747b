import http from 'node:http';

import { createHTTPHandler } from '@trpc/server/adapters/standalone';

import type { Context } from '../context.js';
import type { AppRouter } from '../router/app-router.js';

export type HttpServerOptions = {
  readonly router: AppRouter;
  readonly createContext: () => Context;
  /** Largest accepted request body in bytes. */
  readonly maxBodyBytes: number;
};

export const TRPC_PATH = '/trpc';

/** One HTTP server: tRPC (queries, mutations, SSE subscriptions) under /trpc, plus health. */
export function createHttpServer(options: HttpServerOptions): http.Server {
  const trpc = createHTTPHandler({
    router: options.router,
    createContext: options.createContext,
    basePath: `${TRPC_PATH}/`,
    maxBodySize: options.maxBodyBytes,
  });
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith(`${TRPC_PATH}/`)) {
      trpc(req, res);
      return;
    }
    if (path === '/healthz' && req.method === 'GET') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `No route for ${req.method} ${path}` } });
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}
