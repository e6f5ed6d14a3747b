/**
 * The test router served over WebSocket on an ephemeral loopback port, by
 * our protocol server or by tRPC's own adapter, each with its own probe.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';

import { parseUntrustedJson } from '../../../server/engine/security/json-guard.js';
import {
  createWsProtocolServer,
  type WsErrorInfo,
  type WsProtocolServer,
  type WsProtocolServerOptions,
} from '../../../server/engine/transport/ws/index.js';
import { transformer } from '../../../shared/transformer.js';
import {
  createTestContext,
  errorFormatter,
  Probe,
  testRouter,
  type TestRouter,
  type TestContext,
} from './ws-test-router.js';

export type ServedRouter = AsyncDisposable & {
  readonly url: string;
  readonly probe: Probe;
  /** Errors reported to `onError`, in order. */
  readonly errors: WsErrorInfo<TestContext>[];
  /** Closes the server side of every connection at once (no close handshake). */
  readonly dropConnections: () => void;
};

export type OurServer = ServedRouter & { readonly ws: WsProtocolServer };

type OurOptions = Partial<Omit<WsProtocolServerOptions<TestRouter>, 'router'>>;

export async function startOurServer(options: OurOptions = {}): Promise<OurServer> {
  const probe = new Probe();
  const errors: WsErrorInfo<TestContext>[] = [];
  const ws = createWsProtocolServer({
    router: testRouter,
    transformer,
    errorFormatter,
    createContext: ({ info }) => createTestContext(probe, info.connectionParams),
    onError: (info) => errors.push(info),
    pingMs: 0,
    ...options,
  });
  const server = http.createServer();
  const sockets = new Set<Duplex>();
  server.on('upgrade', (req, socket, head) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    ws.handleUpgrade(req, socket, head);
  });
  const url = await listen(server);
  return {
    url,
    probe,
    errors,
    ws,
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    async [Symbol.asyncDispose]() {
      await ws.close({ graceMs: 0 });
      await closeHttp(server);
    },
  };
}

/** The frame decoder of our server, given to tRPC's adapter too, so that both refuse the same frames. */
export const guardedEncoder = {
  encode: (data: unknown) => JSON.stringify(data),
  decode: (data: string | Buffer) => {
    if (typeof data !== 'string') throw new Error('Binary frames are not accepted: send JSON in text frames');
    return parseUntrustedJson(data);
  },
};

export async function startTrpcServer(
  options: { readonly maxBatchSize?: number } = {},
): Promise<ServedRouter & { readonly broadcastReconnectNotification: () => void }> {
  const probe = new Probe();
  const errors: WsErrorInfo<TestContext>[] = [];
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const handler = applyWSSHandler({
    wss,
    router: testRouter,
    createContext: ({ info }) => createTestContext(probe, info.connectionParams),
    onError: (info) => errors.push(info),
    experimental_encoder: guardedEncoder,
    ...options,
  });
  const url = await listen(server);
  return {
    url,
    probe,
    errors,
    broadcastReconnectNotification: handler.broadcastReconnectNotification,
    dropConnections: () => {
      for (const client of wss.clients) client.terminate();
    },
    async [Symbol.asyncDispose]() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await closeHttp(server);
    },
  };
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

function closeHttp(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
