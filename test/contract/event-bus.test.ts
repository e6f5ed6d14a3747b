/**
 * The EventBus contract against memory and Redis (BullMQ): fan-out to every
 * consumer, retries with stable message ids, dead letters and hooks. Then
 * what only the Redis bus promises across instances: one instance per
 * message and consumer, leases that hand a dead instance's work to another,
 * and queued work that outlives every instance.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';

import { createDeferred } from '../../shared/deferred.js';
import type { DeadLetter, EventBus } from '../../server/engine/bus/event-bus.js';
import { MemoryEventBus } from '../../server/engine/bus/memory-event-bus.js';
import { RedisEventBus } from '../../server/engine/bus/redis-event-bus.js';
import { TopicRegistry, type BusMessage } from '../../server/engine/bus/topics.js';
import { RedisKeys } from '../../server/engine/backends/redis/keys.js';
import type { Pet } from '../../shared/pet.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { redisFixture, silentLogger } from '../support/redis.js';

const redis = redisFixture();
/** The pet shelter's topics: the messages these tests publish and consume. */
const topics = new TopicRegistry([petTopics]);
afterAll(() => redis.cleanup());

type BusOptions = { readonly maxAttempts?: number; readonly retryBaseMs?: number };
const open: EventBus[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((bus) => bus.close(1000)));
  await redis.disconnect();
});

/** A Redis bus; the buses of one test share `keys`, as the instances of one deployment do. */
function redisBus(keys: RedisKeys, options: BusOptions & { readonly leaseMs?: number } = {}): RedisEventBus {
  const connections = redis.connect();
  const bus = new RedisEventBus({
    client: connections.commands,
    workerClient: connections.bus,
    keys,
    topics,
    maxAttempts: options.maxAttempts ?? 3,
    retryBaseMs: options.retryBaseMs ?? 0,
    leaseMs: options.leaseMs ?? 30_000,
    log: silentLogger(),
  });
  open.push(bus);
  return bus;
}

const freshKeys = () => new RedisKeys(`${redis.prefix}${randomUUID()}:`);

const implementations: { name: string; create: (options?: BusOptions) => EventBus }[] = [
  {
    name: 'memory',
    create: (options = {}) => {
      const bus = new MemoryEventBus({
        topics,
        maxAttempts: options.maxAttempts ?? 3,
        retryBaseMs: options.retryBaseMs ?? 0,
      });
      open.push(bus);
      return bus;
    },
  },
  { name: 'redis', create: (options) => redisBus(freshKeys(), options) },
];

const pet: Pet = {
  id: '7',
  name: 'Max',
  species: 'dog',
  ageMonths: 24,
  status: 'new',
  createdAt: '2030-01-01T00:00:00.000Z',
  updatedAt: '2030-01-01T00:00:00.000Z',
};
const newTraceId = () => randomUUID().replaceAll('-', '');

describe.each(implementations)('EventBus contract: $name', ({ create }) => {
  test('each message reaches every consumer of its topic once, and no other consumer', async () => {
    const bus = create();
    const seen: string[] = [];
    const messages: BusMessage[] = [];
    const record = (consumer: string) => async (message: BusMessage) => {
      seen.push(`${consumer} ← ${message.topic}`);
      messages.push(message);
    };
    bus.consume('Feeding', 'feeding.reminder.enqueued', record('Feeding'));
    bus.consume('Enrichment', 'pet.created', record('Enrichment'));
    bus.consume('Audit', 'pet.created', record('Audit'));
    const traceId = newTraceId();
    await bus.publish('pet.created', { pet }, { traceId });
    await bus.publish('feeding.reminder.enqueued', { pet }, { traceId });
    await bus.publish(
      'feeding.reminder.completed',
      { petId: '7', status: 'ill', nextFeedingAt: 'soon' },
      { traceId },
    );
    await vi.waitFor(() => expect(seen).toHaveLength(3), { timeout: 5000, interval: 5 });
    await bus.onIdle();
    expect(seen.sort()).toEqual([
      'Audit ← pet.created',
      'Enrichment ← pet.created',
      'Feeding ← feeding.reminder.enqueued',
    ]);
    const created = messages.filter((m) => m.topic === 'pet.created');
    // Both consumers get the same message: same id, payload as published.
    expect(created[0]).toEqual(created[1]);
    expect(created[0]).toEqual({
      id: expect.any(String),
      topic: 'pet.created',
      traceId,
      data: { pet },
      publishedAt: expect.any(String),
    });
  });

  test('publish validates the payload and returns without waiting for handlers', async () => {
    const bus = create();
    const release = createDeferred<void>();
    const started = createDeferred<void>();
    bus.consume('Slow', 'pet.created', async () => {
      started.resolve();
      await release.promise;
    });
    await expect(
      bus.publish('pet.created', { pet: { ...pet, species: 'dragon' } }, { traceId: newTraceId() }),
    ).rejects.toThrow();
    await bus.publish('pet.created', { pet }, { traceId: newTraceId() });
    await started.promise;
    release.resolve();
    await bus.onIdle();
  });

  test('a failed attempt is retried with the same message, and the hooks say so', async () => {
    const bus = create({ maxAttempts: 3 });
    const attempts: { id: string; attempt: number; maxAttempts: number }[] = [];
    const failures: { attempt: number; retryInMs: number | null; error: unknown }[] = [];
    const succeeded = createDeferred<void>();
    bus.consume(
      'Flaky',
      'pet.created',
      async (message, info) => {
        attempts.push({ id: message.id, ...info });
        if (info.attempt === 1) throw new Error('first attempt fails');
        succeeded.resolve();
      },
      {
        onAttemptFailed: (_message, { attempt, retryInMs, error }) =>
          failures.push({ attempt, retryInMs, error }),
        onDead: async () => {
          throw new Error('not dead');
        },
      },
    );
    await bus.publish('pet.created', { pet }, { traceId: newTraceId() });
    await succeeded.promise;
    await bus.onIdle();
    expect(attempts.map(({ attempt, maxAttempts }) => [attempt, maxAttempts])).toEqual([
      [1, 3],
      [2, 3],
    ]);
    // Redelivery keeps the message id: the step's idempotency keys depend on it.
    expect(attempts[1]?.id).toBe(attempts[0]?.id);
    expect(failures).toEqual([
      {
        attempt: 1,
        retryInMs: expect.any(Number),
        error: expect.objectContaining({ message: 'first attempt fails' }),
      },
    ]);
    expect(await bus.deadLetters()).toEqual([]);
  });

  test('a message whose attempts all fail becomes a dead letter, reported once', async () => {
    const bus = create({ maxAttempts: 3 });
    const attempts: number[] = [];
    const retries: (number | null)[] = [];
    const dead = createDeferred<unknown>();
    let deaths = 0;
    bus.consume(
      'Broken',
      'feeding.reminder.enqueued',
      async (_message, { attempt }) => {
        attempts.push(attempt);
        throw new Error('database on fire');
      },
      {
        onAttemptFailed: (_message, { retryInMs }) => retries.push(retryInMs),
        onDead: async (letter) => {
          deaths += 1;
          dead.resolve(letter);
        },
      },
    );
    const traceId = newTraceId();
    await bus.publish('feeding.reminder.enqueued', { pet }, { traceId });
    const letter = await dead.promise;
    await bus.onIdle();
    expect(attempts).toEqual([1, 2, 3]);
    expect(retries).toEqual([expect.any(Number), expect.any(Number), null]);
    expect(deaths).toBe(1);
    const expected = {
      consumer: 'Broken',
      message: expect.objectContaining({ topic: 'feeding.reminder.enqueued', traceId, data: { pet } }),
      attempts: 3,
      error: 'database on fire',
      diedAt: expect.any(String),
    };
    expect(letter).toEqual(expected);
    expect(await bus.deadLetters()).toEqual([expected]);
  });
});

describe('EventBus on Redis: several instances', () => {
  test('two instances consuming the same step: each message is handled by exactly one of them', async () => {
    const keys = freshKeys();
    const handled = new Map<string, string[]>();
    const [a, b] = ['A', 'B'].map((name) => {
      const bus = redisBus(keys);
      bus.consume('Feeding', 'feeding.reminder.enqueued', async (message) => {
        handled.set(message.traceId, [...(handled.get(message.traceId) ?? []), name]);
      });
      return bus;
    });
    if (!a || !b) throw new Error('two buses expected');
    const traceIds = Array.from({ length: 40 }, newTraceId);
    await Promise.all(
      traceIds.map((traceId, i) =>
        (i % 2 ? a : b).publish('feeding.reminder.enqueued', { pet }, { traceId }),
      ),
    );
    await vi.waitFor(() => expect(handled.size).toBe(40), { timeout: 5000, interval: 10 });
    await a.onIdle();
    expect([...handled.values()].every((by) => by.length === 1)).toBe(true);
    expect(new Set(traceIds)).toEqual(new Set(handled.keys()));
  });

  test('an instance that stops mid-attempt loses its lease; another instance runs the same message', async () => {
    const keys = freshKeys();
    const leaseMs = 300;
    const a = redisBus(keys, { leaseMs });
    const startedOnA = createDeferred<BusMessage>();
    a.consume('Feeding', 'feeding.reminder.enqueued', async (message) => {
      startedOnA.resolve(message);
      // Never finishes, as if the process had hung or died.
      await new Promise(() => undefined);
    });
    await a.publish('feeding.reminder.enqueued', { pet }, { traceId: newTraceId() });
    const message = await startedOnA.promise;
    // Abandons the running attempt without a word to Redis, like a killed process.
    await a.close(0);

    const b = redisBus(keys, { leaseMs });
    const onB = createDeferred<{ message: BusMessage; attempt: number }>();
    b.consume('Feeding', 'feeding.reminder.enqueued', async (redelivered, { attempt }) => {
      onB.resolve({ message: redelivered, attempt });
    });
    const handedOver = await onB.promise;
    expect(handedOver.message).toEqual(message);
    expect(handedOver.attempt).toBe(1);
    await b.onIdle();
    expect(await b.deadLetters()).toEqual([]);
  });

  test('a message whose instances keep dying becomes a dead letter, reported by the instance that gives up', async () => {
    const keys = freshKeys();
    const leaseMs = 200;
    // Each instance takes the message and stops without a word, as a crashing process would.
    for (let crash = 0; crash < 2; crash += 1) {
      const doomed = redisBus(keys, { maxAttempts: 1, leaseMs });
      const taken = createDeferred<void>();
      doomed.consume('Feeding', 'feeding.reminder.enqueued', async () => {
        taken.resolve();
        await new Promise(() => undefined);
      });
      if (crash === 0) await doomed.publish('feeding.reminder.enqueued', { pet }, { traceId: newTraceId() });
      await taken.promise;
      await doomed.close(0);
    }
    const last = redisBus(keys, { maxAttempts: 1, leaseMs });
    const dead = createDeferred<DeadLetter>();
    let ran = false;
    last.consume(
      'Feeding',
      'feeding.reminder.enqueued',
      async () => {
        ran = true;
      },
      { onDead: async (letter) => dead.resolve(letter) },
    );
    expect(await dead.promise).toMatchObject({
      consumer: 'Feeding',
      error: 'job stalled more than allowable limit',
    });
    expect(ran).toBe(false);
    await last.onIdle();
    expect(await last.deadLetters()).toMatchObject([
      { consumer: 'Feeding', error: 'job stalled more than allowable limit' },
    ]);
  });

  test('an attempt interrupted by a graceful shutdown goes back to the queue, not counted as failed', async () => {
    const keys = freshKeys();
    const a = redisBus(keys);
    const interrupt = createDeferred<void>();
    const startedOnA = createDeferred<void>();
    const failedOnA: unknown[] = [];
    a.consume(
      'Feeding',
      'feeding.reminder.enqueued',
      async () => {
        startedOnA.resolve();
        await interrupt.promise;
      },
      { onAttemptFailed: (message) => failedOnA.push(message) },
    );
    await a.publish('feeding.reminder.enqueued', { pet }, { traceId: newTraceId() });
    await startedOnA.promise;
    // The step runner aborts running steps when the service shuts down.
    const closed = a.close(5000);
    interrupt.reject(new Error('aborted by shutdown'));
    await closed;
    expect(failedOnA).toEqual([]);

    const b = redisBus(keys);
    const onB = createDeferred<number>();
    b.consume('Feeding', 'feeding.reminder.enqueued', async (_message, { attempt }) => onB.resolve(attempt));
    expect(await onB.promise).toBe(1);
  });

  test('work published while no instance runs is kept and done by the next one', async () => {
    const keys = freshKeys();
    const first = redisBus(keys);
    first.consume('Feeding', 'feeding.reminder.enqueued', async () => undefined);
    await first.onIdle();
    await first.close();

    // An instance that only publishes (for example the API of a new release).
    const publisher = redisBus(keys);
    const traceId = newTraceId();
    await publisher.publish('feeding.reminder.enqueued', { pet }, { traceId });

    const later = redisBus(keys);
    const handled = createDeferred<string>();
    later.consume('Feeding', 'feeding.reminder.enqueued', async (message) =>
      handled.resolve(message.traceId),
    );
    expect(await handled.promise).toBe(traceId);
  });

  test('dead letters are visible from every instance', async () => {
    const keys = freshKeys();
    const a = redisBus(keys, { maxAttempts: 1 });
    const dead = createDeferred<void>();
    a.consume(
      'Broken',
      'pet.created',
      async () => {
        throw new Error('no luck');
      },
      { onDead: async () => dead.resolve() },
    );
    await a.publish('pet.created', { pet }, { traceId: newTraceId() });
    await dead.promise;
    await a.onIdle();
    const b = redisBus(keys);
    expect(await b.deadLetters()).toMatchObject([{ consumer: 'Broken', attempts: 1, error: 'no luck' }]);
  });
});
