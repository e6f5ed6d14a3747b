import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import { getTRPCErrorFromUnknown, type AnyTRPCRouter } from '@trpc/server';
import { WebSocketServer, type WebSocket } from 'ws';

import { WsConnection, type ServerShared } from './connection.js';
import { FrameEncoder } from './frames.js';
import { startHeartbeat } from './heartbeat.js';
import { resolveOptions, type WsProtocolServerOptions } from './options.js';
import { rootConfig } from './root-config.js';
import { admitUpgrade } from './upgrade.js';

/** The reconnect notification: clients reconnect (and resume) at once. */
const RECONNECT_NOTIFICATION = JSON.stringify({ id: null, method: 'reconnect' });

export interface WsProtocolServer {
  /**
   * Serves an HTTP upgrade request (call it from the HTTP server's
   * `upgrade` event, for the path you serve): `admit` decides, then the
   * handshake is made and the connection served.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Connections open right now. */
  readonly connections: number;
  /** Tells every client to reconnect, e.g. before a restart. */
  broadcastReconnectNotification(): void;
  /**
   * Closes every connection (1001), cancelling everything they run; those
   * still open after `graceMs` (default 5000) are cut off. Resolves once all are closed.
   */
  close(options?: { readonly graceMs?: number }): Promise<void>;
}

/**
 * A WebSocket server speaking tRPC's WebSocket protocol for every procedure
 * of `options.router`. See index.ts for the protocol and its guarantees.
 */
export function createWsProtocolServer<TRouter extends AnyTRPCRouter>(
  options: WsProtocolServerOptions<TRouter>,
): WsProtocolServer {
  const resolved = resolveOptions(options);
  const config = rootConfig({
    transformer: resolved.transformer,
    errorFormatter: resolved.errorFormatter,
    isDev: resolved.isDev,
  });
  const shared: ServerShared = {
    options: resolved as ServerShared['options'],
    config,
    frames: new FrameEncoder(config),
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload: resolved.maxPayloadBytes });
  const connections = new Map<WebSocket, WsConnection>();
  wss.on('connection', (client: WebSocket, req: IncomingMessage) => {
    resolved.onConnection?.(client, req);
    connections.set(client, new WsConnection(client, req, shared));
    client.once('close', () => connections.delete(client));
  });
  const heartbeat = resolved.pingMs > 0 ? startHeartbeat(wss, resolved.pingMs) : null;
  let closing = false;

  return {
    handleUpgrade(req, socket, head) {
      void admitUpgrade(
        socket,
        () =>
          closing ? { status: 503 } : (resolved.admit?.(req, { connections: wss.clients.size }) ?? null),
        {
          accept: () => wss.handleUpgrade(req, socket, head, (client) => wss.emit('connection', client, req)),
          onFailure: (cause) =>
            resolved.onError?.({
              error: getTRPCErrorFromUnknown(cause),
              type: 'unknown',
              path: undefined,
              input: undefined,
              ctx: undefined,
              req,
            }),
        },
      );
    },
    get connections() {
      return wss.clients.size;
    },
    broadcastReconnectNotification() {
      for (const connection of connections.values()) connection.notify(RECONNECT_NOTIFICATION);
    },
    async close({ graceMs = 5000 } = {}) {
      if (!Number.isInteger(graceMs) || graceMs < 0) {
        throw new TypeError(`Expected \`graceMs\` to be an integer >= 0, got \`${graceMs}\``);
      }
      closing = true;
      heartbeat?.stop();
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
