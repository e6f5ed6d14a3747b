/**
 * Redis going away and coming back, with a server process on a Redis of its
 * own (never the shared one): callers get a clear, quick error, readiness
 * says so, the process survives, and service resumes by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

import { TRPCClientError } from '@trpc/client';
import { describe, expect, test, vi } from 'vitest';

import type { AppRouter } from '../../client/create-client.js';
import { createDeferred } from '../../shared/deferred.js';
import { collect } from '../support/async.js';
import { buddy, luna, max } from '../support/pets.js';
import { randomKeyPrefix } from '../support/redis.js';
import { startServerProcess } from '../support/server-process.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A throwaway, memory-only Redis; resolves once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const ready = createDeferred<void>();
  createInterface({ input: child.stdout ?? process.stdin }).on('line', (line) => {
    if (line.includes('Ready to accept connections')) ready.resolve();
  });
  child.once('exit', (code) => ready.reject(new Error(`redis-server exited with ${code}`)));
  await ready.promise;
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

const status = async (url: string) => (await fetch(url)).status;

describe('Redis trouble', () => {
  test('Redis down: readiness fails, calls fail fast and clearly, the process lives on; Redis back: it recovers', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    try {
      await using server = await startServerProcess({
        REDIS_URL: `redis://127.0.0.1:${port}`,
        REDIS_KEY_PREFIX: randomKeyPrefix(),
        REDIS_COMMAND_TIMEOUT_MS: '500',
        STREAM_TOKEN_SECRET: 'outage-test-secret-at-least-32-characters',
        FEEDING_CHECK_DELAY_MS: '0',
        STEP_RETRY_BASE_MS: '0',
        STEP_LEASE_MS: '1000',
      });
      const client = server.newClient();
      await vi.waitFor(async () => expect(await status(`${server.url}/readyz`)).toBe(200), {
        timeout: 5000,
        interval: 50,
      });
      const before = await client.pets.create.mutate(buddy);
      expectCompleteWorkflow(
        await collect(client.watchPetCreation(before.traceId, before.streamToken)),
        buddy,
      );

      await stopRedis(redis);
      await vi.waitFor(async () => expect(await status(`${server.url}/readyz`)).toBe(503), {
        timeout: 5000,
        interval: 50,
      });
      const startedAt = Date.now();
      const failure = await client.pets.create.mutate(max).then(
        () => null,
        (error: unknown) => error,
      );
      const failedAfterMs = Date.now() - startedAt;
      expect(failure).toBeInstanceOf(TRPCClientError);
      const error = failure as TRPCClientError<AppRouter>;
      expect(error.data?.code).toBe('SERVICE_UNAVAILABLE');
      expect(error.data?.httpStatus).toBe(503);
      expect(error.message).toBe('The service cannot reach its storage right now; try again shortly');
      expect(failedAfterMs).toBeLessThan(3000);
      await expect(client.pets.get.query({ id: before.pet.id })).rejects.toMatchObject({
        data: { code: 'SERVICE_UNAVAILABLE' },
      });
      expect(await status(`${server.url}/healthz`)).toBe(200);
      expect(server.logs.some((l) => l.msg === '❌ Redis unreachable; retrying in the background')).toBe(
        true,
      );

      redis = await startRedis(port);
      const restartedAt = Date.now();
      await vi.waitFor(async () => expect(await status(`${server.url}/readyz`)).toBe(200), {
        timeout: 10_000,
        interval: 50,
      });
      const recoveredAfterMs = Date.now() - restartedAt;
      // This Redis kept nothing; the service works on the empty one.
      const after = await client.pets.create.mutate(luna);
      expectCompleteWorkflow(await collect(client.watchPetCreation(after.traceId, after.streamToken)), luna);
      await server.waitForLog((l) => l.msg === 'Redis reachable again');
      expect(server.child.exitCode).toBeNull();
      expect(recoveredAfterMs).toBeLessThan(5000);
    } finally {
      await stopRedis(redis);
    }
  });
});
