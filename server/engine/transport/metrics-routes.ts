import { getHTTPStatusCodeFromError } from '@trpc/server/http';

import { operatorAccessError } from '../security/access.js';
import type { ApiKeys } from '../security/api-keys.js';
import { callerFromRequest } from '../security/caller.js';
import { sendJson, type HttpRoute } from './http-routes.js';

export type MetricsSource = {
  /** The Prometheus text exposition of every metric. */
  readonly text: () => Promise<string>;
  readonly contentType: string;
};

export type MetricsRoutesOptions = {
  /** With keys configured, scrapers present one (`Authorization: Bearer …`); without, loopback only. */
  readonly apiKeys: ApiKeys;
};

/** `GET /metrics`: Prometheus text format, for scrapers; an operator view like `system.stats`. */
export function metricsRoutes(source: MetricsSource, options: MetricsRoutesOptions): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      handle: async (req, res) => {
        const denied = operatorAccessError(callerFromRequest(req, 'http'), options.apiKeys);
        if (denied) {
          const status = getHTTPStatusCodeFromError(denied);
          sendJson(
            res,
            status,
            { error: { code: denied.code, message: denied.message } },
            status === 401 ? { 'www-authenticate': 'Bearer' } : {},
          );
          return;
        }
        const body = await source.text();
        res.writeHead(200, {
          'content-type': source.contentType,
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-store',
        });
        res.end(body);
      },
    },
  ];
}
