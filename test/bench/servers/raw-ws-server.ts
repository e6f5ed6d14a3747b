/**
 * The baseline: `ws` with a hand-written subscribe message, each event
 * serialised once and sent to every subscriber of its group.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { WebSocketServer, type WebSocket } from 'ws';

import { now } from '../clock.js';
import { makePayload } from '../payload.js';
import { rawText } from '../raw-text.js';
import type { BenchGroup, BenchServer } from './bench-server.js';

export function createRawWsServer(): BenchServer {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const groups = new Map<string, Set<WebSocket>>();
  let nextGroup = 0;

  wss.on('connection', (socket) => {
    let joined: Set<WebSocket> | undefined;
    socket.on('message', (raw) => {
      const request = JSON.parse(rawText(raw)) as { sub?: string };
      if (typeof request.sub !== 'string') return;
      joined?.delete(socket);
      joined = groups.get(request.sub) ?? new Set();
      groups.set(request.sub, joined);
      joined.add(socket);
      socket.send(JSON.stringify({ subscribed: request.sub }));
    });
    socket.on('close', () => joined?.delete(socket));
  });

  return {
    listen: () =>
      new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    openGroups: async (count) =>
      Array.from({ length: count }, (): BenchGroup => ({ id: `g${(nextGroup += 1)}` })),
    writeSweep: (ids, seq, last) => {
      for (const id of ids) {
        const message = JSON.stringify(makePayload(seq, now()));
        const subscribers = groups.get(id);
        if (subscribers) for (const socket of subscribers) socket.send(message);
        if (last) groups.delete(id);
      }
    },
    idle: async () => {},
    close: async () => {
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
