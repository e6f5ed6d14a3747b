/**
 * A loopback TCP relay in front of Redis that counts round trips: a
 * connection's bytes towards Redis that follow a reply (or open the
 * connection) start a new one. Commands written together (a pipeline, a
 * MULTI … EXEC, commands queued before the first reply) are one round trip,
 * as they cost one wait.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export type RoundTripCounter = {
  readonly url: string;
  readonly roundTrips: () => number;
  readonly close: () => Promise<void>;
};

export async function startRoundTripCounter(redis: { readonly host: string; readonly port: number }): Promise<RoundTripCounter> {
  let roundTrips = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(redis.port, redis.host);
    sockets.add(client).add(upstream);
    let waiting = false;
    client.on('data', (chunk) => {
      if (!waiting) roundTrips += 1;
      waiting = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      waiting = false;
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    roundTrips: () => roundTrips,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
