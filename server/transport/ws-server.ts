import type http from 'node:http';
import type { Duplex } from 'node:stream';

import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';

import type { Context } from '../context.js';
import type { AppRouter } from '../router/app-router.js';
import { TRPC_PATH } from './http-server.js';

export type WsServerOptions = {
  readonly router: AppRouter;
  readonly createContext: () => Context;
  /** Largest accepted frame in bytes; larger ones close the connection (1009). */
  readonly maxPayloadBytes: number;
  /** Upgrades beyond this many open connections are refused with 503. */
  readonly maxConnections: number;
  /** Quiet time before a ping; a connection that does not answer is closed. 0 disables. */
  readonly pingMs: number;
};

export type WsServer = {
  readonly wss: WebSocketServer;
  /** Tells every client to reconnect (before a shutdown). */
  readonly broadcastReconnectNotification: () => void;
  /** Closes every connection (terminating those still open after `graceMs`) and the server. */
  readonly close: (graceMs: number) => Promise<void>;
};

/** tRPC over WebSocket on the HTTP server's port, at /trpc. */
export function attachWsServer(server: http.Server, options: WsServerOptions): WsServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  const handler = applyWSSHandler({
    wss,
    router: options.router,
    createContext: options.createContext,
    keepAlive: { enabled: options.pingMs > 0, pingMs: options.pingMs || undefined },
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== TRPC_PATH) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    if (wss.clients.size >= options.maxConnections) {
      refuse(socket, 503, 'Service Unavailable');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  return {
    wss,
    broadcastReconnectNotification: handler.broadcastReconnectNotification,
    close: async (graceMs) => {
      const closed = [...wss.clients].map(
        (client) => new Promise<void>((resolve) => client.once('close', () => resolve())),
      );
      for (const client of wss.clients) client.close(1001, 'server shutting down');
      // Clients that ignore the close handshake are cut off after the grace time.
      const timer = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, graceMs);
      await Promise.all(closed);
      clearTimeout(timer);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
