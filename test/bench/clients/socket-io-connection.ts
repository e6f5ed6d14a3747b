/** socket.io-client over WebSocket only, one manager per connection. */
import { io } from 'socket.io-client';

import type { BenchConnection, Receiver } from './bench-connection.js';

export async function connectSocketIo(url: string): Promise<BenchConnection> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  let receive: Receiver | undefined;
  socket.on('e', (data: unknown) => receive?.(data));
  return {
    subscribe: async (group, onData) => {
      receive = onData;
      await socket.emitWithAck('sub', group.id);
    },
    close: () => void socket.disconnect(),
  };
}
