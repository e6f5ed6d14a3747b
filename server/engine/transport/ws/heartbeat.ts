import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Protocol-level keep-alive: every `intervalMs` each connection gets a ping;
 * one that has not answered the previous ping by then is terminated. Every
 * WebSocket implementation (browsers included) answers pings by itself, so
 * only dead peers and stuck clients are dropped, within two intervals.
 */
export function startHeartbeat(wss: WebSocketServer, intervalMs: number): { readonly stop: () => void } {
  if (!Number.isInteger(intervalMs) || intervalMs < 1) {
    throw new TypeError(`Expected \`intervalMs\` to be an integer >= 1, got \`${intervalMs}\``);
  }
  const answered = new WeakSet<WebSocket>();
  const onConnection = (client: WebSocket) => {
    answered.add(client);
    client.on('pong', () => answered.add(client));
  };
  wss.on('connection', onConnection);

  const sweep = () => {
    for (const client of wss.clients) {
      if (!answered.has(client)) {
        client.terminate();
        continue;
      }
      answered.delete(client);
      client.ping();
    }
  };
  // Timers run before pending I/O: after a busy spell, pongs that already
  // arrived are read first, so a live client is never taken for a dead one.
  const timer = setInterval(() => setImmediate(sweep), intervalMs);
  timer.unref();

  return {
    stop: () => {
      clearInterval(timer);
      wss.off('connection', onConnection);
    },
  };
}
