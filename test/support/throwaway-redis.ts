/**
 * A memory-only redis-server of a test's own, never the shared one. It
 * listens on a Unix socket in a fresh directory; clients reach it through
 * a TCP port the OS picked for this test (a small proxy holds it for the
 * whole test), so restarting Redis reuses no port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { createDeferred } from '../../shared/deferred.js';

export type ThrowawayRedis = {
  /** `redis://127.0.0.1:<port>`: the same for the whole test, across restarts. */
  readonly url: string;
  /** Kills Redis at once (SIGKILL): its data is gone. */
  readonly kill: () => Promise<void>;
  /** Starts a new, empty Redis behind the same URL. */
  readonly start: () => Promise<void>;
  /** Stops Redis and the proxy and removes the socket's directory. */
  readonly stop: () => Promise<void>;
};

export async function startThrowawayRedis(): Promise<ThrowawayRedis> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pet-stream-redis-'));
  const socketPath = path.join(dir, 'redis.sock');
  const clients = new Set<Socket>();
  // Each client connection is piped to Redis; either side closing closes both, as a dead Redis would.
  const proxy: Server = createServer((client) => {
    clients.add(client);
    const upstream = connect(socketPath);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('close', () => {
      clients.delete(client);
      close();
    });
    upstream.once('close', close);
    client.on('error', close);
    upstream.on('error', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port');

  let redis: ChildProcess | null = null;
  const start = async () => {
    redis = await spawnRedis(socketPath);
  };
  const kill = async () => {
    const child = redis;
    redis = null;
    if (child?.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${address.port}`,
    kill,
    start,
    stop: async () => {
      await kill();
      for (const client of clients) client.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A redis-server without persistence on `socketPath` only; resolves once it accepts connections. */
async function spawnRedis(socketPath: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socketPath, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = createDeferred<void>();
  createInterface({ input: child.stdout ?? process.stdin }).on('line', (line) => {
    if (/ready to accept connections/i.test(line)) ready.resolve();
  });
  child.once('exit', (code) => ready.reject(new Error(`redis-server exited with ${code}`)));
  await ready.promise;
  return child;
}
