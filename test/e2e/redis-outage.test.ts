/**
 * Redis going away and coming back, with a server process on a Redis of its
 * own (never the shared one): callers get a clear error instead of waiting
 * for Redis, readiness says so, the process survives, and service resumes
 * by itself.
 */
import { TRPCClientError } from '@trpc/client';
import { describe, expect, test, vi } from 'vitest';

import type { AppRouter } from '../../client/create-client.js';
import { collect } from '../support/async.js';
import { buddy, luna, max } from '../support/pets.js';
import { randomKeyPrefix } from '../support/redis.js';
import { startServerProcess } from '../support/server-process.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startThrowawayRedis } from '../support/throwaway-redis.js';

const status = async (url: string) => (await fetch(url)).status;

describe('Redis trouble', () => {
  test('Redis down: readiness fails, calls fail fast and clearly, the process lives on; Redis back: it recovers', async () => {
    // Its URL stays the same while Redis is killed and started again behind it.
    const redis = await startThrowawayRedis();
    try {
      await using server = await startServerProcess({
        REDIS_URL: redis.url,
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

      await redis.kill();
      await vi.waitFor(async () => expect(await status(`${server.url}/readyz`)).toBe(503), {
        timeout: 5000,
        interval: 50,
      });
      // Redis stays down until this call has failed: it fails rather than waiting for Redis.
      const failure = await client.pets.create.mutate(max).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(TRPCClientError);
      const error = failure as TRPCClientError<AppRouter>;
      expect(error.data?.code).toBe('SERVICE_UNAVAILABLE');
      expect(error.data?.httpStatus).toBe(503);
      expect(error.message).toBe('The service cannot reach its storage right now; try again shortly');
      await expect(client.pets.get.query({ id: before.pet.id })).rejects.toMatchObject({
        data: { code: 'SERVICE_UNAVAILABLE' },
      });
      expect(await status(`${server.url}/healthz`)).toBe(200);
      expect(server.logs.some((l) => l.msg === '❌ Redis unreachable; retrying in the background')).toBe(
        true,
      );

      await redis.start();
      await server.waitForLog((l) => l.msg === 'Redis reachable again');
      await vi.waitFor(async () => expect(await status(`${server.url}/readyz`)).toBe(200), {
        timeout: 10_000,
        interval: 50,
      });
      // This Redis kept nothing; the service works on the empty one.
      const after = await client.pets.create.mutate(luna);
      expectCompleteWorkflow(await collect(client.watchPetCreation(after.traceId, after.streamToken)), luna);
      expect(server.child.exitCode).toBeNull();
    } finally {
      await redis.stop();
    }
  });
});
