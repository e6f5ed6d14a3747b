/** Socket.IO 4 over WebSocket only: rooms as groups, one broadcast per event. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { Server } from 'socket.io';

import { now } from '../clock.js';
import { makePayload } from '../payload.js';
import type { BenchGroup, BenchServer } from './bench-server.js';

export function createSocketIoServer(): BenchServer {
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], serveClient: false });
  let nextGroup = 0;

  io.on('connection', (socket) => {
    socket.on('sub', (group: unknown, ack: unknown) => {
      if (typeof group !== 'string' || typeof ack !== 'function') return;
      void socket.join(group);
      (ack as (ok: boolean) => void)(true);
    });
  });

  return {
    listen: () =>
      new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    openGroups: async (count) =>
      Array.from({ length: count }, (): BenchGroup => ({ id: `g${(nextGroup += 1)}` })),
    writeSweep: (ids, seq, last) => {
      for (const id of ids) {
        io.to(id).emit('e', makePayload(seq, now()));
        if (last) io.in(id).socketsLeave(id);
      }
    },
    idle: async () => {},
    close: async () => {
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => void io.close(() => resolve()));
    },
  };
}
