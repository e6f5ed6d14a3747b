/**
 * A loopback TCP proxy that holds one OS-given port for a whole test, in
 * front of servers that come and go: a server restarted, or out of reach,
 * takes a fresh port of its own (port 0) and the proxy is pointed at it, so
 * no port is ever released and then listened on again.
 */
import { connect, createServer, type Socket } from 'node:net';

export type TcpProxy = AsyncDisposable & {
  /** `http://127.0.0.1:<port>`: the same for the whole test. */
  readonly url: string;
  readonly port: number;
  /**
   * Sends new connections to this port on 127.0.0.1; with null, each new
   * connection is closed at once, as by a host with nothing listening.
   */
  readonly point: (port: number | null) => void;
  /** Closes every connection made through the proxy so far. */
  readonly cut: () => void;
};

export async function startTcpProxy(target: number | null): Promise<TcpProxy> {
  let current = target;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    if (current === null) {
      client.destroy();
      return;
    }
    const upstream = connect(current, '127.0.0.1');
    const pair = [client, upstream];
    const close = () => {
      for (const socket of pair) {
        socket.destroy();
        open.delete(socket);
      }
    };
    for (const socket of pair) {
      open.add(socket);
      socket.once('close', close);
      socket.on('error', close);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port');
  const cut = () => {
    for (const socket of open) socket.destroy();
    open.clear();
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    point: (port) => {
      current = port;
    },
    cut,
    async [Symbol.asyncDispose]() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
