import type { HttpRoute } from './http-routes.js';

export type MetricsSource = {
  /** The Prometheus text exposition of every metric. */
  readonly text: () => Promise<string>;
  readonly contentType: string;
};

/** `GET /metrics`: Prometheus text format, for scrapers. */
export function metricsRoutes(source: MetricsSource): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      handle: async (_req, res) => {
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
