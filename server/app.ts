/**
 * The composition root: services from the configuration, the router, and
 * one HTTP server carrying tRPC over HTTP, SSE and WebSocket on one port.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

import type { Config } from './config.js';
import { createContextFactory } from './context.js';
import type { Logger } from './log.js';
import { appRouter } from './router/app-router.js';
import { createServices, type RunningServices, type ServiceOverrides } from './services.js';
import { healthRoutes } from './transport/health-routes.js';
import type { HttpRoute } from './transport/http-routes.js';
import { metricsRoutes } from './transport/metrics-routes.js';
import { restRoutes } from './transport/rest-routes.js';
import { createHttpServer } from './transport/http-server.js';
import { staticRoutes } from './transport/static-routes.js';
import { attachWsServer } from './transport/ws-server.js';

export type App = {
  readonly services: RunningServices;
  readonly server: http.Server;
  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  readonly listen: () => Promise<{ readonly host: string; readonly port: number }>;
  /** Graceful shutdown: refuse new work, tell WS clients to reconnect, close everything. */
  readonly close: () => Promise<void>;
  /** Cuts every open socket at once, as a network failure would. */
  readonly destroyConnections: () => void;
};

export function createApp(config: Config, log: Logger, overrides: ServiceOverrides = {}): App {
  const services = createServices(config, log, overrides);
  const createContext = createContextFactory(services);
  const routes: HttpRoute[] = [
    ...healthRoutes({ ready: services.backends.ready }),
    ...metricsRoutes(services.observability.metrics),
    ...restRoutes({
      createContext,
      maxBodyBytes: config.limits.httpMaxBodyBytes,
      sseHeartbeatMs: config.limits.sseHeartbeatMs,
    }),
    // Last: the workbench page and its assets.
    ...staticRoutes(),
  ];
  const server = createHttpServer({
    router: appRouter,
    createContext,
    maxBodyBytes: config.limits.httpMaxBodyBytes,
    routes,
    log,
  });
  const ws = attachWsServer(server, {
    router: appRouter,
    createContext,
    maxPayloadBytes: config.limits.wsMaxPayloadBytes,
    maxConnections: config.limits.maxConnections,
    pingMs: config.limits.wsPingMs,
    maxBufferedBytes: config.limits.wsMaxBufferedBytes,
    slowConsumerMs: config.limits.wsSlowConsumerMs,
    fastPath: config.limits.wsFastPath,
    maxSubscriptionsPerConnection: config.limits.maxSubscriptionsPerConnection,
    allowedOrigins: config.security.allowedOrigins,
    apiKeys: services.apiKeys,
    log,
  });
  services.observability.observeHttp(server, routes);
  services.observability.observeWs(ws.wss);

  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  let closing: Promise<void> | undefined;
  return {
    services,
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
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        ws.broadcastReconnectNotification();
        await ws.close(Math.min(1000, config.limits.shutdownTimeoutMs));
        server.closeIdleConnections();
        // SSE responses stay open until their subscription ends: cut them after the grace time.
        const timer = setTimeout(() => server.closeAllConnections(), config.limits.shutdownTimeoutMs);
        await services.close();
        server.closeAllConnections();
        await serverClosed;
        clearTimeout(timer);
        log.info('Stopped');
      })()),
    destroyConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}
