/**
 * The composition root: services from the configuration, the router, and
 * one HTTP server carrying tRPC over HTTP, SSE and WebSocket on one port.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

import { closeInOrder } from './close-in-order.js';
import type { Config } from './config.js';
import type { Application } from './application.js';
import { createContextFactory } from './transport/context.js';
import type { Logger } from './log.js';
import { createEngine, type Engine } from './create-engine.js';
import { healthRoutes } from './transport/health-routes.js';
import type { HttpRoute } from './transport/http-routes.js';
import { metricsRoutes } from './transport/metrics-routes.js';
import { workflowSseRoute } from './transport/rest.js';
import { createHttpServer } from './transport/http-server.js';
import { staticRoutes } from './transport/static-routes.js';
import { attachWsServer } from './transport/ws-transport.js';

/** Bounds on the time WebSocket clients get to answer the close handshake at shutdown. */
const WS_CLOSE_MIN_MS = 100;
const WS_CLOSE_MAX_MS = 1000;

export type Server = {
  readonly engine: Engine;
  readonly server: http.Server;
  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  readonly listen: () => Promise<{ readonly host: string; readonly port: number }>;
  /**
   * Graceful shutdown: refuse new connections, let running steps finish
   * (SHUTDOWN_TIMEOUT_MS, then interrupt them), tell WS clients to
   * reconnect, close everything. Each part is closed even if another fails.
   */
  readonly close: () => Promise<void>;
  /** Cuts every open socket at once, as a network failure would. */
  readonly destroyConnections: () => void;
};

/**
 * The engine running `application`, served over HTTP (tRPC, REST, SSE)
 * and WebSocket on one port.
 */
export function createServer(config: Config, log: Logger, application: Application): Server {
  const engine = createEngine(config, log, application);
  const services = engine;
  const createContext = createContextFactory(engine);
  const router = application.router;
  const routes: HttpRoute[] = [
    ...healthRoutes({ ready: engine.backends.ready }),
    ...metricsRoutes(engine.observability.metrics, { apiKeys: engine.apiKeys }),
    // Any workflow's events, by its token's kind.
    workflowSseRoute({
      createContext,
      log,
      path: /^\/workflows\/(?<traceId>[^/]+)\/events$/,
      kind: null,
      heartbeatMs: config.limits.sseHeartbeatMs,
    }),
    ...(application.httpRoutes?.({ config, log, createContext }) ?? []),
    // Last: the workbench page and its assets.
    ...staticRoutes(),
  ];
  const server = createHttpServer({
    router,
    createContext,
    maxBodyBytes: config.limits.httpMaxBodyBytes,
    routes,
    log,
    connections: {
      maxConnections: config.limits.maxConnections,
      maxPerClient: config.limits.maxConnectionsPerClient,
    },
    timeouts: {
      headersMs: config.limits.httpHeadersTimeoutMs,
      requestMs: config.limits.httpRequestTimeoutMs,
      keepAliveMs: config.limits.httpKeepAliveTimeoutMs,
    },
    maxResponseBytes: config.limits.maxResponseBytes,
  });
  const ws = attachWsServer(server, {
    router,
    createContext,
    maxPayloadBytes: config.limits.wsMaxPayloadBytes,
    pingMs: config.limits.wsPingMs,
    maxBufferedBytes: config.limits.wsMaxBufferedBytes,
    slowConsumerMs: config.limits.wsSlowConsumerMs,
    maxSubscriptionsPerConnection: config.limits.maxSubscriptionsPerConnection,
    allowedOrigins: config.security.allowedOrigins,
    apiKeys: services.apiKeys,
    observability: engine.observability,
    log,
  });
  services.observability.observeHttp(server, routes);

  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  let closing: Promise<void> | undefined;
  return {
    engine,
    server,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          log.info({ host: config.host, port: address.port }, 'Listening');
          resolve({ host: config.host, port: address.port });
        });
      }),
    close: () =>
      (closing ??= (async () => {
        const graceMs = config.limits.shutdownTimeoutMs;
        const deadline = Date.now() + graceMs;
        // No new connection; the open ones carry on while the steps finish.
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await closeInOrder([
          // Watchers still receive what the finishing steps write, and the final event.
          ['steps', () => services.stopSteps(graceMs)],
          [
            'WebSocket connections',
            async () => {
              ws.broadcastReconnectNotification();
              const left = deadline - Date.now();
              await ws.close(Math.min(WS_CLOSE_MAX_MS, Math.max(WS_CLOSE_MIN_MS, left)));
            },
          ],
          [
            'HTTP connections',
            () => {
              // SSE responses still open, and sockets left half-closed by refused upgrades.
              server.closeAllConnections();
              for (const socket of sockets) socket.destroy();
            },
          ],
          ['services', () => services.close()],
          ['HTTP server', () => serverClosed],
        ]);
        log.info('Stopped');
      })()),
    destroyConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}
