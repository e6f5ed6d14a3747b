import type http from 'node:http';
import { isIPv6, type Socket } from 'node:net';

export type ConnectionLimitsOptions = {
  /** Open connections at most, whatever the transport (HTTP, SSE, WebSocket). */
  readonly maxConnections: number;
  /** Open connections from one client (IPv4 address, or IPv6 /64) at most. */
  readonly maxPerClient: number;
  /** How long a refused connection may linger while its answer is read. @default 1000 */
  readonly refusedLingerMs?: number;
};

export type ConnectionLimits = {
  /** Connections currently admitted. */
  readonly open: () => number;
  /** Connections currently admitted from the client `address` belongs to. */
  readonly openFrom: (address: string) => number;
};

const REFUSAL_BODY = JSON.stringify({
  error: { code: 'SERVICE_UNAVAILABLE', message: 'Too many open connections; retry later' },
});

/** Written before the request is read, so it costs nothing to send whatever the client asked. */
const REFUSAL = [
  'HTTP/1.1 503 Service Unavailable',
  'Retry-After: 1',
  'Connection: close',
  'Content-Type: application/json; charset=utf-8',
  `Content-Length: ${Buffer.byteLength(REFUSAL_BODY)}`,
  '',
  REFUSAL_BODY,
].join('\r\n');

/**
 * Caps open TCP connections on `server`, in total and per client, before
 * the HTTP server reads a byte: SSE streams, slow requests and WebSockets
 * all hold a connection, so they are all counted. A connection over a cap
 * gets a 503 with `Retry-After` and is closed.
 *
 * An HTTP server handles a connection from its own `connection` listener
 * (the documented way to inject one), so the listeners present now are
 * called only for admitted connections. Call it before adding others.
 */
export function limitConnections(server: http.Server, options: ConnectionLimitsOptions): ConnectionLimits {
  const { maxConnections, maxPerClient, refusedLingerMs = 1000 } = options;
  for (const [name, value] of Object.entries({ maxConnections, maxPerClient, refusedLingerMs })) {
    if (!Number.isInteger(value) || value < (name === 'refusedLingerMs' ? 0 : 1)) {
      throw new TypeError(`Expected \`${name}\` to be a positive integer, got \`${value}\``);
    }
  }
  let open = 0;
  const perClient = new Map<string, number>();
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const client = clientOf(socket.remoteAddress ?? 'unknown');
    const fromClient = perClient.get(client) ?? 0;
    if (open >= maxConnections || fromClient >= maxPerClient) {
      refuse(socket, refusedLingerMs);
      return;
    }
    open += 1;
    perClient.set(client, fromClient + 1);
    socket.once('close', () => {
      open -= 1;
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
    });
    for (const handler of handlers) handler.call(server, socket);
  });
  return { open: () => open, openFrom: (address) => perClient.get(clientOf(address)) ?? 0 };
}

/**
 * Answers 503 and closes. What the client already sent is read and
 * dropped, so that closing does not reset the connection before the
 * answer is read; a client that keeps sending is cut after `lingerMs`.
 */
function refuse(socket: Socket, lingerMs: number): void {
  socket.on('error', () => socket.destroy());
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  socket.resume();
  socket.end(REFUSAL);
}

/**
 * What per-client caps are keyed on: an IPv4 address, or the /64 an IPv6
 * address is in (one host is usually given a whole /64).
 */
export function clientOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = address.includes('::') && tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(Math.max(missing, 0)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
