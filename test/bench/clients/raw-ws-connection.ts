/** A plain `ws` client speaking the raw baseline's subscribe message. */
import WebSocket from 'ws';

import { rawText } from '../raw-text.js';
import type { BenchConnection, Receiver } from './bench-connection.js';

export async function connectRawWs(url: string): Promise<BenchConnection> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let receive: Receiver | undefined;
  let acknowledged: (() => void) | undefined;
  socket.on('message', (raw) => {
    const message = JSON.parse(rawText(raw)) as unknown;
    if (acknowledged && typeof message === 'object' && message !== null && 'subscribed' in message) {
      acknowledged();
      acknowledged = undefined;
      return;
    }
    receive?.(message);
  });
  return {
    subscribe: (group, onData) =>
      new Promise((resolve) => {
        receive = onData;
        acknowledged = resolve;
        socket.send(JSON.stringify({ sub: group.id }));
      }),
    close: () => socket.close(),
  };
}
