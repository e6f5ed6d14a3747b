/**
 * tRPC over WebSocket on the HTTP server's port, at /trpc, served by the
 * engine's own protocol server (transport/ws/): every procedure of the
 * router, workflow subscriptions written straight from the fan-out.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';

import type { AnyTRPCRouter } from '@trpc/server';

import { serverTransformer } from '../../../shared/transformer.js';
import { apiKeyRejected } from '../errors.js';
import type { Logger } from '../log.js';
import type { Observability } from '../observability/observability.js';
import type { ApiKeys } from '../security/api-keys.js';
import { apiKeyFromHeaders, callerFromRequest } from '../security/caller.js';
import { checkOrigin } from '../security/origin-check.js';
import type { Context, RequestScope } from './context.js';
import { MAX_BATCH_SIZE, TRPC_PATH } from './http-server.js';
import { errorFormatter } from './trpc.js';
import { createWsProtocolServer, type WsProtocolServer } from './ws/index.js';

export type WsServerOptions = {
  readonly router: AnyTRPCRouter;
  readonly createContext: (scope?: RequestScope) => Context;
  /** Largest accepted frame in bytes; larger ones close the connection (1009). */
  readonly maxPayloadBytes: number;
  /**
   * Upgrades beyond this many open WebSockets are refused with 503. The
   * HTTP server's connection caps count WebSockets too. @default no cap
   */
  readonly maxConnections?: number;
  /** Interval between pings; a connection that missed the previous one is dropped. 0 disables. */
  readonly pingMs: number;
  /** Unsent bytes a connection may hold before it counts as slow. */
  readonly maxBufferedBytes: number;
  /** How long a connection may stay above `maxBufferedBytes` before it is closed (4008). */
  readonly slowConsumerMs: number;
  /** Subscriptions one connection may hold at once. */
  readonly maxSubscriptionsPerConnection: number;
  /** Origins a browser may connect from; empty allows all. */
  readonly allowedOrigins: readonly string[];
  /** When keys are configured, a connection must present one (connection params or header). */
  readonly apiKeys: ApiKeys;
  readonly observability?: Observability;
  readonly log?: Logger;
};

export type WsServer = {
  /** Tells every client to reconnect (before a shutdown). */
  readonly broadcastReconnectNotification: () => void;
  /** Closes every connection (terminating those still open after `graceMs`) and the server. */
  readonly close: (graceMs: number) => Promise<void>;
  readonly protocol: WsProtocolServer;
};

/** A connection that asked to send connection params (API key) must send them within this time. */
export const CONNECTION_PARAMS_TIMEOUT_MS = 10_000;

export function attachWsServer(server: http.Server, options: WsServerOptions): WsServer {
  const { apiKeys } = options;
  const protocol = createWsProtocolServer({
    router: options.router,
    transformer: serverTransformer,
    errorFormatter,
    // One context per connection: the caller (address, API key from the
    // connection params or a header). Subscriptions are counted by the
    // protocol server itself.
    createContext: ({ req, info }) =>
      options.createContext({
        caller: callerFromRequest(req, 'ws', info.connectionParams),
        subscriptions: null,
      }),
    authorizeConnection: ({ req, connectionParams }) => {
      const check = apiKeys.check(callerFromRequest(req, 'ws', connectionParams).apiKey);
      if (check === 'missing' || check === 'invalid') throw apiKeyRejected(check);
    },
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR')
        options.log?.error({ err: error.cause ?? error, path }, '❌ Call failed');
    },
    admit: (req, { connections }) => {
      if (checkOrigin(req.headers.origin, options.allowedOrigins) === 'forbidden') return { status: 403 };
      if (options.maxConnections !== undefined && connections >= options.maxConnections)
        return { status: 503 };
      // A key in connection params is checked when they arrive; one in a header is checked now.
      if (
        apiKeys.required &&
        !expectsConnectionParams(req) &&
        apiKeys.check(apiKeyFromHeaders(req.headers)) !== 'ok'
      )
        return { status: 401 };
      return null;
    },
    onConnection: (client) => options.observability?.observeWs(client),
    onSlowConsumer: ({ req, bufferedAmount }) =>
      options.log?.warn({ ip: req.socket.remoteAddress, bufferedAmount }, '🐢 Slow consumer disconnected'),
    maxPayloadBytes: options.maxPayloadBytes,
    // tRPC's client sends every call queued in one turn in one frame: room for all the subscriptions a connection may hold.
    maxBatchSize: MAX_BATCH_SIZE + options.maxSubscriptionsPerConnection,
    maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection,
    maxBufferedBytes: options.maxBufferedBytes,
    slowConsumerMs: options.slowConsumerMs,
    pingMs: options.pingMs,
    connectionParamsTimeoutMs: CONNECTION_PARAMS_TIMEOUT_MS,
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== TRPC_PATH) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    protocol.handleUpgrade(req, socket, head);
  });

  return {
    protocol,
    broadcastReconnectNotification: () => protocol.broadcastReconnectNotification(),
    close: (graceMs) => protocol.close({ graceMs }),
  };
}

/** tRPC clients configured with `connectionParams` say so in the URL, then send them first. */
function expectsConnectionParams(req: http.IncomingMessage): boolean {
  return new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
}

function refuse(socket: Duplex, status: number, reason: string): void {
  // The HTTP server stops watching a socket it hands over for an upgrade: a
  // peer that resets it now must not become an uncaught error.
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
