import type http from 'node:http';
import type { Duplex } from 'node:stream';

import type { TRPCError } from '@trpc/server';
import {
  getWSConnectionHandler,
  type CreateWSSContextFnOptions,
  type Encoder,
} from '@trpc/server/adapters/ws';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

import type { Context, RequestScope } from '../context.js';
import { apiKeyRejected } from '../errors.js';
import type { Logger } from '../log.js';
import type { AppRouter } from '../router/app-router.js';
import type { ApiKeys } from '../security/api-keys.js';
import { apiKeyFromHeaders, callerFromRequest } from '../security/caller.js';
import { parseUntrustedJson } from '../security/json-guard.js';
import { checkOrigin } from '../security/origin-check.js';
import { SubscriptionSlots } from '../security/subscription-slots.js';
import { MAX_BATCH_SIZE, TRPC_PATH } from './http-server.js';
import { boundOutgoingBuffer } from './ws-backpressure.js';
import { encodeMessage } from './ws-encoder.js';
import { FastPathConnection } from './ws-fast-path.js';
import { startHeartbeat } from './ws-heartbeat.js';

export type WsServerOptions = {
  readonly router: AppRouter;
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
  /** Unsent bytes a connection may hold; see `boundOutgoingBuffer`. */
  readonly maxBufferedBytes: number;
  /** How long a connection may stay above `maxBufferedBytes` before it is closed (4008). */
  readonly slowConsumerMs: number;
  /** Serve `petCreation.onUpdate` through the shared-listener fast path (see ws-fast-path.ts). */
  readonly fastPath: boolean;
  /** Subscriptions one connection may hold at once. */
  readonly maxSubscriptionsPerConnection: number;
  /** Origins a browser may connect from; empty allows all. */
  readonly allowedOrigins: readonly string[];
  /** When keys are configured, a connection must present one (connection params or header). */
  readonly apiKeys: ApiKeys;
  readonly log?: Logger;
};

export type WsServer = {
  readonly wss: WebSocketServer;
  /** Tells every client to reconnect (before a shutdown). */
  readonly broadcastReconnectNotification: () => void;
  /** Closes every connection (terminating those still open after `graceMs`) and the server. */
  readonly close: (graceMs: number) => Promise<void>;
};

/** A connection that asked to send connection params (API key) must send them within this time. */
export const CONNECTION_PARAMS_TIMEOUT_MS = 10_000;

/**
 * Every frame is JSON in a text frame; nesting depth and prototype-pollution
 * keys are checked before parsing, and a refusal answers that frame alone.
 */
const guardedJson: Encoder = {
  // Events already serialised once (SerializedEvent) are reused, not serialised per subscriber.
  encode: encodeMessage,
  decode: (data) => {
    if (typeof data !== 'string') throw new Error('Binary frames are not accepted: send JSON in text frames');
    return parseUntrustedJson(data);
  },
};

/** tRPC over WebSocket on the HTTP server's port, at /trpc. */
export function attachWsServer(server: http.Server, options: WsServerOptions): WsServer {
  const { apiKeys } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });

  // Registered before the tRPC handler, so the bound is in place before anything is sent.
  wss.on('connection', (client: WebSocket, req: http.IncomingMessage) => {
    boundOutgoingBuffer(client, {
      maxBufferedBytes: options.maxBufferedBytes,
      graceMs: options.slowConsumerMs,
      onSlowConsumer: (bufferedAmount) =>
        options.log?.warn({ ip: req.socket.remoteAddress, bufferedAmount }, '🐢 Slow consumer disconnected'),
    });
    if (expectsConnectionParams(req)) closeUnlessParamsArrive(client);
  });
  const onError = ({ error, path }: { readonly error: TRPCError; readonly path: string | undefined }) => {
    if (error.code === 'INTERNAL_SERVER_ERROR')
      options.log?.error({ err: error.cause ?? error, path }, '❌ Call failed');
  };
  // Contexts of connections that were admitted: the fast path serves only those.
  const contexts = new WeakMap<WebSocket, Context>();
  const serveConnection = getWSConnectionHandler({
    wss,
    router: options.router,
    createContext: (opts) => {
      const ctx = createConnectionContext(opts, options);
      contexts.set(opts.res, ctx);
      return ctx;
    },
    experimental_encoder: guardedJson,
    maxBatchSize: MAX_BATCH_SIZE,
    onError,
  });
  wss.on('connection', (client: WebSocket, req: http.IncomingMessage) => {
    const before = client.listeners('message').length;
    serveConnection(client, req);
    if (!options.fastPath) return;
    // tRPC's frame listener is wrapped: frames the fast path serves never reach it.
    let fastPath: FastPathConnection | undefined;
    for (const listener of client.listeners('message').slice(before)) {
      client.off('message', listener as (...args: unknown[]) => void);
      client.on('message', (data: RawData, isBinary: boolean) => {
        const ctx = contexts.get(client);
        if (ctx) {
          fastPath ??= new FastPathConnection(client, ctx, { router: options.router, onError });
          if (fastPath.handle(data, isBinary)) return;
        }
        (listener as (data: RawData, isBinary: boolean) => void).call(client, data, isBinary);
      });
    }
  });
  const heartbeat = options.pingMs > 0 ? startHeartbeat(wss, options.pingMs) : null;

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== TRPC_PATH) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    if (checkOrigin(req.headers.origin, options.allowedOrigins) === 'forbidden') {
      refuse(socket, 403, 'Forbidden');
      return;
    }
    if (options.maxConnections !== undefined && wss.clients.size >= options.maxConnections) {
      refuse(socket, 503, 'Service Unavailable');
      return;
    }
    // A key in connection params is checked when they arrive; one in a header is checked now.
    if (
      apiKeys.required &&
      !expectsConnectionParams(req) &&
      apiKeys.check(apiKeyFromHeaders(req.headers)) !== 'ok'
    ) {
      refuse(socket, 401, 'Unauthorized');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  return {
    wss,
    broadcastReconnectNotification: () => {
      const data = guardedJson.encode({ id: null, method: 'reconnect' });
      for (const client of wss.clients) if (client.readyState === client.OPEN) client.send(data);
    },
    close: async (graceMs) => {
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

/**
 * One context per connection: the caller (address, API key from the
 * connection params or a header) and the connection's subscription budget.
 * Throwing here refuses the connection: tRPC answers with the error, then closes.
 */
function createConnectionContext(
  { req, info }: CreateWSSContextFnOptions,
  options: WsServerOptions,
): Context {
  const caller = callerFromRequest(req, 'ws', info.connectionParams);
  const ctx = options.createContext({
    caller,
    subscriptions: new SubscriptionSlots(options.maxSubscriptionsPerConnection),
  });
  const check = options.apiKeys.check(caller.apiKey);
  if (check === 'missing' || check === 'invalid') throw apiKeyRejected(check);
  return ctx;
}

/** tRPC clients configured with `connectionParams` say so in the URL, then send them first. */
function expectsConnectionParams(req: http.IncomingMessage): boolean {
  return new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
}

/** Until its params arrive a connection serves nothing; it must not hold a slot for ever. */
function closeUnlessParamsArrive(client: WebSocket): void {
  const timer = setTimeout(
    () => client.close(1008, 'connection params not received'),
    CONNECTION_PARAMS_TIMEOUT_MS,
  );
  timer.unref();
  client.once('message', () => clearTimeout(timer));
  client.once('close', () => clearTimeout(timer));
}

function refuse(socket: Duplex, status: number, reason: string): void {
  // The HTTP server stops watching a socket it hands over for an upgrade: a
  // peer that resets it now must not become an uncaught error.
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
