/**
 * Bare tRPC v11 as its documentation shows it: superjson, an async-generator
 * subscription over `node:events` `on()`, `tracked()` ids, `applyWSSHandler`.
 */
import { EventEmitter, on } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { initTRPC, tracked } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import superjson from 'superjson';
import { WebSocketServer } from 'ws';
import { z } from 'zod';

import { now } from '../clock.js';
import { makePayload, type BenchData } from '../payload.js';
import type { BenchGroup, BenchServer } from './bench-server.js';

const events = new EventEmitter();
events.setMaxListeners(0);

const t = initTRPC.create({ transformer: superjson });

export const bareRouter = t.router({
  onUpdate: t.procedure.input(z.object({ group: z.string() })).subscription(async function* ({ input, signal }) {
    for await (const args of on(events, input.group, { signal })) {
      const [data, seq, last] = args as [BenchData, number, boolean];
      yield tracked(String(seq), data);
      if (last) return;
    }
  }),
});
export type BareRouter = typeof bareRouter;

export function createBareTrpcServer(): BenchServer {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const handler = applyWSSHandler({ wss, router: bareRouter });
  let nextGroup = 0;

  return {
    listen: () =>
      new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    openGroups: async (count) =>
      Array.from({ length: count }, (): BenchGroup => ({ id: `g${(nextGroup += 1)}` })),
    writeSweep: (ids, seq, last) => {
      for (const id of ids) events.emit(id, makePayload(seq, now()), seq, last);
    },
    idle: async () => {},
    close: async () => {
      handler.broadcastReconnectNotification();
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
