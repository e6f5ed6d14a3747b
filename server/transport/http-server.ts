import http from 'node:http';

import { createHTTPHandler } from '@trpc/server/adapters/standalone';

import type { Context } from '../context.js';
import type { AppRouter } from '../router/app-router.js';
import { matchRoute, sendError, type HttpRoute } from './http-routes.js';

export type HttpServerOptions = {
  readonly router: AppRouter;
  readonly createContext: () => Context;
  /** Largest accepted request body in bytes. */
  readonly maxBodyBytes: number;
  /** Plain routes beside tRPC. */
  readonly routes: readonly HttpRoute[];
};

export const TRPC_PATH = '/trpc';

/** One HTTP server: tRPC (queries, mutations, SSE subscriptions) under /trpc, plus plain routes. */
export function createHttpServer(options: HttpServerOptions): http.Server {
  const trpc = createHTTPHandler({
    router: options.router,
    createContext: options.createContext,
    basePath: `${TRPC_PATH}/`,
    maxBodySize: options.maxBodyBytes,
  });
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith(`${TRPC_PATH}/`)) {
      trpc(req, res);
      return;
    }
    const match = matchRoute(options.routes, req.method ?? 'GET', url.pathname);
    if (match === null) {
      sendError(res, 404, 'NOT_FOUND', `No route for ${req.method} ${url.pathname}`);
      return;
    }
    if (match === 'methodMismatch') {
      sendError(res, 405, 'METHOD_NOT_SUPPORTED', `${req.method} is not allowed on ${url.pathname}`);
      return;
    }
    Promise.resolve(match.route.handle(req, res, match.params, url)).catch(() => {
      if (!res.headersSent) sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      else res.destroy();
    });
  });
}
