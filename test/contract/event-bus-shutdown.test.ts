/**
 * How both event buses shut down: running handlers get the grace time and
 * may still publish; then the delivery signal aborts, and what has not
 * finished is interrupted: not failed, not retried, not a dead letter.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, afterEach, describe, expect, test } from 'vitest';

import type { EventBus } from '../../server/engine/bus/event-bus.js';
import { MemoryEventBus } from '../../server/engine/bus/memory-event-bus.js';
import { RedisEventBus } from '../../server/engine/bus/redis-event-bus.js';
import { TopicRegistry, type BusMessage } from '../../server/engine/bus/topics.js';
import { RedisKeys } from '../../server/engine/backends/redis/keys.js';
import { createDeferred } from '../../shared/deferred.js';
import type { Pet } from '../../shared/pet.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { redisFixture, silentLogger } from '../support/redis.js';

const redis = redisFixture();
/** The pet shelter's topics: the messages these tests publish and consume. */
const topics = new TopicRegistry([petTopics]);
afterAll(() => redis.cleanup());

const open: EventBus[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((bus) => bus.close(0)));
  await redis.disconnect();
});

const implementations: { name: string; create: (retryBaseMs?: number) => EventBus }[] = [
  {
    name: 'memory',
    create: (retryBaseMs = 0) => {
      const bus = new MemoryEventBus({ topics, maxAttempts: 3, retryBaseMs });
      open.push(bus);
      return bus;
    },
  },
  {
    name: 'redis',
    create: (retryBaseMs = 0) => {
      const connections = redis.connect();
      const bus = new RedisEventBus({
        client: connections.commands,
        workerClient: connections.bus,
        keys: new RedisKeys(`${redis.prefix}${randomUUID()}:`),
        topics,
        maxAttempts: 3,
        retryBaseMs,
        leaseMs: 30_000,
        log: silentLogger(),
      });
      open.push(bus);
      return bus;
    },
  },
];

const pet: Pet = {
  id: '1',
  name: 'Max',
  species: 'dog',
  ageMonths: 24,
  status: 'new',
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-01-01T00:00:00.000Z',
};

const traceId = () => randomUUID().replaceAll('-', '');

describe.each(implementations)('EventBus shutdown: $name', ({ create }) => {
  test('a handler that finishes within the grace time completes, and may still publish', async () => {
    const bus = create();
    const started = createDeferred<void>();
    const release = createDeferred<void>();
    const published = createDeferred<void>();
    const interrupted: BusMessage[] = [];
    const failed: BusMessage[] = [];
    bus.consume(
      'Feeding',
      'feeding.reminder.enqueued',
      async ({ traceId: id }, { signal }) => {
        started.resolve();
        await release.promise;
        expect(signal.aborted).toBe(false);
        await bus.publish(
          'feeding.reminder.completed',
          { petId: '1', status: 'healthy', nextFeedingAt: 'x' },
          { traceId: id },
        );
        published.resolve();
      },
      {
        onInterrupted: (message) => interrupted.push(message),
        onAttemptFailed: (message) => failed.push(message),
      },
    );
    await bus.publish('feeding.reminder.enqueued', { pet }, { traceId: traceId() });
    await started.promise;

    const closed = bus.close(20_000);
    release.resolve();
    await published.promise;
    await closed;
    expect(failed).toEqual([]);
    expect(interrupted).toEqual([]);
    expect(await bus.deadLetters()).toEqual([]);
    await expect(bus.publish('feeding.reminder.enqueued', { pet }, { traceId: traceId() })).rejects.toThrow(
      'event bus is closed',
    );
  });

  test('a handler still running when the grace time ends is told to stop, then reported interrupted, not failed', async () => {
    const bus = create();
    const started = createDeferred<AbortSignal>();
    const interrupted: { message: BusMessage; attempt: number }[] = [];
    const failed: BusMessage[] = [];
    bus.consume(
      'Feeding',
      'feeding.reminder.enqueued',
      async (_message, { signal }) => {
        started.resolve(signal);
        await new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new Error('stopped', { cause: signal.reason }))),
        );
      },
      {
        onInterrupted: (message, { attempt }) => interrupted.push({ message, attempt }),
        onAttemptFailed: (message) => failed.push(message),
        onDead: async (letter) => void failed.push(letter.message),
      },
    );
    const id = traceId();
    await bus.publish('feeding.reminder.enqueued', { pet }, { traceId: id });
    const signal = await started.promise;

    await bus.close(20);
    expect(signal.aborted).toBe(true);
    expect(failed).toEqual([]);
    expect(interrupted).toMatchObject([{ message: { traceId: id }, attempt: 1 }]);
    expect(await bus.deadLetters()).toEqual([]);
  });
});

describe('EventBus shutdown: memory', () => {
  test('a message waiting for its retry when the grace time ends is interrupted, not dead', async () => {
    const bus = new MemoryEventBus({ topics, maxAttempts: 3, retryBaseMs: 60_000 });
    open.push(bus);
    const failedOnce = createDeferred<void>();
    const interrupted: number[] = [];
    const dead: unknown[] = [];
    bus.consume(
      'Feeding',
      'feeding.reminder.enqueued',
      async () => {
        throw new Error('transient');
      },
      {
        onAttemptFailed: () => failedOnce.resolve(),
        onInterrupted: (_message, { attempt }) => interrupted.push(attempt),
        onDead: async (letter) => void dead.push(letter),
      },
    );
    await bus.publish('feeding.reminder.enqueued', { pet }, { traceId: traceId() });
    await failedOnce.promise;

    await bus.close(0);
    expect(interrupted).toEqual([2]);
    expect(dead).toEqual([]);
    expect(await bus.deadLetters()).toEqual([]);
  });
});
