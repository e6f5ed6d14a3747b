import type http from 'node:http';

import type { HttpRoute } from '../transport/http-routes.js';
import { matchRoute } from '../transport/http-routes.js';
import type { ServiceMetrics } from './metrics.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/**
 * Counts every HTTP request once its response ends (or its connection
 * closes), by method, route and status. Labels stay few: tRPC calls share
 * one route, and a path no route knows is `unmatched`.
 */
export function countHttpRequests(
  server: http.Server,
  routes: readonly HttpRoute[],
  metrics: ServiceMetrics,
): void {
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.once('close', () => {
      const method = METHODS.has(req.method ?? '') ? (req.method ?? 'GET') : 'OTHER';
      metrics.httpRequests.inc({
        method,
        route: routeLabel(routes, method, req.url ?? '/'),
        status: String(res.statusCode),
      });
    });
  });
}

export function routeLabel(routes: readonly HttpRoute[], method: string, url: string): string {
  const path = url.split('?', 1)[0] ?? '/';
  if (path.startsWith('/trpc/')) return '/trpc';
  const match = matchRoute(routes, method, path);
  if (match === null || match === 'methodMismatch') return 'unmatched';
  const pattern = match.route.path;
  return typeof pattern === 'string' ? pattern : patternLabel(pattern);
}

/** `^/api/pets/(?<id>[^/]+)$` reads as `/api/pets/:id`. */
function patternLabel(pattern: RegExp): string {
  return pattern.source
    .replace(/\(\?<(\w+)>(?:[^()\\]|\\.)*\)/g, ':$1')
    .replace(/^\^|\$$/g, '')
    .replace(/\\\//g, '/');
}
