import type { RawData, WebSocket } from 'ws';

import type { ServiceMetrics } from './metrics.js';

const METHOD = /"method"\s*:\s*"(query|mutation|subscription|subscription\.stop|connectionParams)"/;

/** Counts one open WebSocket connection and the requests it sends, by tRPC method. */
export function countWsTraffic(socket: WebSocket, metrics: ServiceMetrics): void {
  metrics.wsConnections.inc();
  socket.once('close', () => metrics.wsConnections.dec());
  socket.on('message', (data: RawData) => {
    const method = methodOf(data);
    if (method) metrics.wsMessages.inc({ method });
  });
}

/** The tRPC method of a request frame; null for keep-alive pongs. Reads at most the first 256 bytes. */
function methodOf(data: RawData): string | null {
  const head = Buffer.isBuffer(data)
    ? data.toString('utf8', 0, 256)
    : Array.isArray(data)
      ? Buffer.concat(data).toString('utf8', 0, 256)
      : Buffer.from(data, 0, Math.min(256, data.byteLength)).toString('utf8');
  if (head === 'PONG' || head === 'PING') return null;
  return METHOD.exec(head)?.[1] ?? 'other';
}
