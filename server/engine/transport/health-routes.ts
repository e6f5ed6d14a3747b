import type { HttpRoute } from './http-routes.js';
import { sendJson } from './http-routes.js';

export type HealthOptions = {
  /** True when storage and bus can be reached; `/readyz` is 503 otherwise. */
  readonly ready?: () => Promise<boolean>;
  /** A readiness check unanswered this long counts as not ready. @default 2000 */
  readonly readyTimeoutMs?: number;
};

/** Liveness (`/healthz`: the process is up and serving) and readiness (`/readyz`: its backends answer). */
export function healthRoutes(options: HealthOptions = {}): HttpRoute[] {
  const { ready = async () => true, readyTimeoutMs = 2000 } = options;
  if (!Number.isInteger(readyTimeoutMs) || readyTimeoutMs < 1) {
    throw new TypeError(`Expected \`readyTimeoutMs\` to be an integer >= 1, got \`${readyTimeoutMs}\``);
  }
  return [
    { method: 'GET', path: '/healthz', handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: async (_req, res) => {
        const ok = await withTimeout(ready(), readyTimeoutMs);
        sendJson(
          res,
          ok ? 200 : 503,
          { status: ok ? 'ready' : 'unavailable' },
          { 'cache-control': 'no-store' },
        );
      },
    },
  ];
}

/** The check's answer; false when it fails or takes longer than `ms`. */
async function withTimeout(check: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([check.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
