import type http from 'node:http';

/** A plain HTTP route beside tRPC (health, REST, metrics, static files). */
export type HttpRoute = {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD';
  /** Exact path, or a pattern whose named groups become `params`. */
  readonly path: string | RegExp;
  readonly handle: (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    params: Readonly<Record<string, string>>,
    url: URL,
  ) => void | Promise<void>;
};

export type RouteMatch = {
  readonly route: HttpRoute;
  readonly params: Readonly<Record<string, string>>;
};

/** The route for a request; `methodMismatch` when the path exists under another method. */
export function matchRoute(
  routes: readonly HttpRoute[],
  method: string,
  path: string,
): RouteMatch | 'methodMismatch' | null {
  let pathMatched = false;
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (!params) continue;
    if (route.method === method || (route.method === 'GET' && method === 'HEAD')) return { route, params };
    pathMatched = true;
  }
  return pathMatched ? 'methodMismatch' : null;
}

function matchPath(pattern: string | RegExp, path: string): Record<string, string> | null {
  if (typeof pattern === 'string') return pattern === path ? {} : null;
  const match = pattern.exec(path);
  return match ? { ...match.groups } : null;
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export function sendError(res: http.ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}
