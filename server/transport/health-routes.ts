import type { HttpRoute } from './http-routes.js';
import { sendJson } from './http-routes.js';

/** Liveness: the process is up and serving. */
export function healthRoutes(): HttpRoute[] {
  return [{ method: 'GET', path: '/healthz', handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) }];
}
