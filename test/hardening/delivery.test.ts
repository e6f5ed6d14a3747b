/**
 * Every event once, in order, nothing lost: from the point of view of real
 * clients under forced disconnects, and on what the server itself sends
 * (raw WebSocket frames, tRPC's SSE and plain SSE, nothing deduplicated),
 * on memory and on Redis, while subscribers join, fall behind and resume.
 */
import type { Socket } from 'node:net';

import { afterAll, describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';

import { RedisKeys } from '../../server/engine/backends/redis/keys.js';
import { SUBSCRIBER_BUFFER_LIMIT } from '../../server/engine/create-engine.js';
import { MemoryWorkflowLogStorage } from '../../server/engine/streams/memory-storage.js';
import type { StoredEvent } from '../../server/engine/streams/storage.js';
import { WorkflowLog } from '../../server/engine/streams/workflow-log.js';
import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { defineStep, type ApplicationServices, type StepDefinition } from '../../server/engine/index.js';
import type { PetInput } from '../../shared/pet.js';
import { createDeferred, type Deferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { parseSamples, valueOf } from '../observability/prometheus-text.js';
import { collect, SETTLES } from '../support/async.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy, luna, max } from '../support/pets.js';
import { resumingWatch, TRANSPORTS, watchEndpoints, type OpenWatch } from '../support/raw-watch.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { startRedisLink } from '../support/redis-link.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { petCreationOf, storedNow } from '../support/stored.js';
import { createPrng } from './support/prng.js';

const prefixes: string[] = [];
afterAll(() => Promise.all(prefixes.map((prefix) => deleteKeys(prefix))));

/** Memory, or Redis under a key prefix of its own for each call. */
const backends = [
  { backend: 'memory', env: (): Record<string, string> => ({}) },
  {
    backend: 'redis',
    env: (): Record<string, string> => {
      const prefix = randomKeyPrefix();
      prefixes.push(prefix);
      return { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };
    },
  },
] as const;

/** A step that holds its workflow open (nothing written) until `gate` resolves. */
function holdingStep(gate: Promise<void>): StepDefinition<ApplicationServices> {
  return defineStep({
    name: 'Held',
    title: 'Held',
    subscribes: 'pet.created',
    topics: petTopics,
    streams: { petCreation: petCreationStream },
    async handler() {
      await gate;
    },
  });
}

/** The server side of every WebSocket, so that a test can cut one as the network would. */
function trackUpgradedSockets(ctx: TestApp): Set<Socket> {
  const sockets = new Set<Socket>();
  ctx.app.server.on('upgrade', (_req, socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

async function storedEvents(ctx: TestApp, traceId: string): Promise<readonly StoredEvent[]> {
  return storedNow(ctx.app.engine, traceId);
}

describe('no event lost or duplicated, from each client’s point of view', () => {
  test('200 subscribers, 100 concurrent workflows, random forced disconnects: every list is exactly the stored one', async () => {
    const prng = createPrng(20_251_125);
    await using ctx = await startTestApp();
    const sockets = trackUpgradedSockets(ctx);
    let opened = 0;
    class CountingWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        opened += 1;
      }
    }
    const clients = Array.from({ length: 40 }, () =>
      ctx.newClient({ WebSocket: CountingWebSocket as unknown as typeof globalThis.WebSocket }),
    );
    const pets: PetInput[] = Array.from({ length: 100 }, (_, i) => ({
      ...prng.pick([max, luna, buddy]),
      name: `Pet ${i}`,
    }));

    // Every 40th event delivered anywhere cuts a WebSocket (or, once every
    // create has been answered over HTTP, sometimes every socket at once).
    let received = 0;
    let cuts = 0;
    let created = 0;
    const onEvent = () => {
      received += 1;
      if (received % 40 !== 0) return;
      if (created === pets.length && prng.chance(0.1)) {
        ctx.app.destroyConnections();
      } else {
        [...sockets][prng.int(sockets.size)]?.destroy();
      }
      cuts += 1;
    };
    const watch = async (traceId: string, token: string) => {
      const events: PetCreationEvent[] = [];
      for await (const event of prng.pick(clients).watchPetCreation(traceId, token)) {
        events.push(event);
        onEvent();
      }
      return events;
    };
    const results = await Promise.all(
      pets.map(async (pet) => {
        const { traceId, streamToken } = await prng.pick(clients).pets.create.mutate(pet);
        created += 1;
        const lists = await Promise.all([watch(traceId, streamToken), watch(traceId, streamToken)]);
        return { pet, traceId, lists };
      }),
    );

    expect(cuts).toBeGreaterThan(10);
    // Sockets opened beyond one per client are reconnects.
    expect(opened).toBeGreaterThan(clients.length);
    for (const { pet, traceId, lists } of results) {
      const stored = await storedEvents(ctx, traceId);
      for (const events of lists) {
        expect(events).toEqual(stored);
        expectCompleteWorkflow(events, pet);
      }
    }
    await vi.waitFor(() => expect(ctx.app.engine.backends.streamStorage.listenerCount()).toBe(0), SETTLES);
  });

  test('a subscriber that falls behind while history is trimmed gets a reset, then everything still kept', async () => {
    const storage = new MemoryWorkflowLogStorage({ historyLimit: 10, retentionMs: 60_000 });
    const stream = new WorkflowLog(storage, { subscriberBufferLimit: 5 }).stream(petCreationStream);
    await stream.set('g', 'message', { message: 'first' });
    const subscription = stream.subscribe('g');
    expect((await subscription.next()).value).toMatchObject({ eventId: '1' });

    // 30 events while it is away: its queue overflows and the log keeps only the last 10.
    for (let i = 2; i <= 31; i += 1) await stream.set('g', 'message', { message: `event ${i}` });
    expect(storage.listenerCount()).toBe(1);
    await stream.finish('g', { message: 'done' });

    const rest = await collect(subscription);
    expect(rest.map((e) => `${e.kind}:${e.eventId}`)).toEqual([
      'reset:1',
      ...Array.from({ length: 9 }, (_, i) => `set:${23 + i}`),
      'finished:32',
    ]);
    expect(storage.listenerCount()).toBe(0);
  });
});

describe.each(backends)('what the server sends: every event once, in order ($backend)', ({ env }) => {
  test('raw subscribers on every transport, cut off by the server and by themselves, resume with the last id they saw', async () => {
    const prng = createPrng(0x0dd5);
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({
      env: { ...env(), FEEDING_CHECK_DELAY_MS: '2' },
      steps: gatedSteps('FeedingReminder', feeding.promise),
    });
    const endpoints = await watchEndpoints(ctx);
    try {
      const pets = Array.from({ length: 8 }, (_, i) => ({
        ...prng.pick([max, luna, buddy]),
        name: `Pet ${i}`,
      }));
      const created = await Promise.all(pets.map((pet) => ctx.client.pets.create.mutate(pet)));
      // Every 15th event delivered anywhere cuts every connection to the app; each
      // subscriber also drops its own connection once, at a random event.
      let delivered = 0;
      const watchers = created.flatMap(({ traceId, streamToken }) =>
        TRANSPORTS.map((transport) => {
          let dropAt = 1 + prng.int(10);
          const onEvent = (_event: PetCreationEvent, watch: OpenWatch) => {
            delivered += 1;
            if (delivered % 15 === 0) ctx.app.destroyConnections();
            dropAt -= 1;
            if (dropAt === 0) watch.close();
            // The feeding steps go on while subscribers are still catching up.
            if (delivered === 100) feeding.resolve();
          };
          const open = (lastEventId: string | undefined) =>
            endpoints.open(transport, {
              traceId,
              token: streamToken,
              ...(lastEventId ? { lastEventId } : {}),
            });
          return resumingWatch(open, onEvent).then((result) => ({ transport, traceId, ...result }));
        }),
      );
      const results = await Promise.all(watchers);
      let reconnects = 0;
      for (const { transport, traceId, events, connections, end } of results) {
        expect(end, transport).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(events, await storedEvents(ctx, traceId), { label: transport });
        reconnects += connections - 1;
      }
      expect(reconnects).toBeGreaterThan(results.length);
      await vi.waitFor(() => expect(ctx.app.engine.backends.streamStorage.listenerCount()).toBe(0), SETTLES);
    } finally {
      feeding.resolve();
      await endpoints.close();
    }
  });

  test('subscribers joining while events are written reach the end with each event once, on every transport', async () => {
    const BURST = 300;
    const go = createDeferred<void>();
    const burst = defineStep({
      name: 'Burst',
      title: 'Burst',
      subscribes: 'pet.created',
      topics: petTopics,
      streams: { petCreation: petCreationStream },
      async handler({ pet }, { streams, traceId }) {
        await go.promise;
        for (let i = 1; i <= BURST; i += 1) {
          await streams.petCreation.set(traceId, 'burst', {
            message: `${pet.name} ${i}`,
            progress: (i / BURST) * 100,
          });
          // Let subscriptions start between writes, so that they join mid-burst.
          if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      },
    });
    await using ctx = await startTestApp({
      steps: [burst],
      env: { ...env(), STREAM_HISTORY_LIMIT: '10000' },
    });
    const endpoints = await watchEndpoints(ctx);
    try {
      const created = await ctx.client.pets.create.mutate(buddy);
      const request = { traceId: created.traceId, token: created.streamToken };
      // On every transport, a subscriber joins each time the burst passes a mark.
      const watches: Promise<OpenWatch>[] = [];
      const finished = createDeferred<void>();
      let written = 0;
      const unlisten = ctx.app.engine.backends.streamStorage.listen(created.traceId, (event) => {
        written += 1;
        if (written % 30 === 2)
          for (const transport of TRANSPORTS) watches.push(endpoints.open(transport, request));
        if (event.kind === 'finished') finished.resolve();
      });
      go.resolve();
      await finished.promise;
      unlisten();
      expect(watches).toHaveLength(10 * TRANSPORTS.length);

      const stored = await storedEvents(ctx, created.traceId);
      expect(stored).toHaveLength(BURST + 2);
      for (const [index, opened] of watches.entries()) {
        const transport = TRANSPORTS[index % TRANSPORTS.length] ?? 'sse';
        const { events, end } = await (await opened).ended;
        expect(end, transport).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(events, stored, { label: `${transport}, subscriber ${index}` });
      }
    } finally {
      await endpoints.close();
    }
  });
});

describe('subscribers whose history read is slow', () => {
  test('a push subscriber more than its buffer behind while its history is read holds no more: the rest comes from storage', async () => {
    const held = createDeferred<void>();
    await using ctx = await startTestApp({
      steps: [holdingStep(held.promise)],
      env: { STREAM_HISTORY_LIMIT: String(2 * SUBSCRIBER_BUFFER_LIMIT) },
    });
    const created = await ctx.client.pets.create.mutate(buddy);
    const stream = petCreationOf(ctx.app.engine);
    const live = async () =>
      valueOf(
        parseSamples(await ctx.app.engine.observability.metrics.text()),
        'pet_stream_stream_delivery_lag_seconds_count',
        { stream: 'petCreation' },
      );
    const liveBefore = await live();

    // The WebSocket's push delivery: its history read starts now and
    // comes back only after this synchronous burst, which is one event more
    // than the subscriber may keep meanwhile.
    const received: StoredEvent[] = [];
    const ended: Deferred<unknown> = createDeferred<unknown>();
    stream.push(created.traceId, null, { event: (event) => received.push(event), end: ended.resolve });
    const writes = Array.from({ length: SUBSCRIBER_BUFFER_LIMIT + 1 }, (_, i) =>
      stream.set(created.traceId, 'burst', { message: `burst ${i}` }),
    );
    await Promise.all(writes);
    held.resolve();
    expect(await ended.promise).toBeUndefined();

    expectExactlyOnceInOrder(received, await storedEvents(ctx, created.traceId));
    expect(received).toHaveLength(SUBSCRIBER_BUFFER_LIMIT + 3);
    // Only the finished event came live; the burst was read again from storage, not kept.
    expect((await live()) - liveBefore).toBe(1);
  });

  test('Redis answering the history read late, after a write made elsewhere: each event once, on every transport', async () => {
    // Instance A writes straight to Redis; B reaches Redis through a link
    // that holds B's history read back until A's write has landed. That
    // write is then both in B's history and in its live feed.
    const prefix = randomKeyPrefix();
    prefixes.push(prefix);
    const held = createDeferred<void>();
    await using link = await startRedisLink();
    const env = { REDIS_KEY_PREFIX: prefix };
    await using a = await startTestApp({
      env: { ...env, REDIS_URL: TEST_REDIS_URL },
      steps: [holdingStep(held.promise)],
    });
    await using b = await startTestApp({
      env: { ...env, REDIS_URL: link.url },
      steps: [holdingStep(held.promise)],
    });
    const endpoints = await watchEndpoints(b);
    try {
      const created = await a.client.pets.create.mutate(buddy);
      const request = { traceId: created.traceId, token: created.streamToken };
      const log = new RedisKeys(prefix).workflowLog(created.traceId).log;
      const watches: OpenWatch[] = [];
      for (const transport of TRANSPORTS) {
        // The history read: EVALSHA <sha> 2 <log> <meta> <position>.
        const historyRead = link.holdNext(
          (args) => args[0]?.toLowerCase() === 'evalsha' && args[2] === '2' && args[3] === log,
        );
        const watch = await endpoints.open(transport, request);
        watches.push(watch);
        const read = await historyRead;
        await petCreationOf(a.app.engine).set(created.traceId, 'probe', {
          message: `while ${transport} reads`,
        });
        read.release();
        await watch.received(1 + watches.length);
      }
      held.resolve();
      const results = await Promise.all(watches.map((watch) => watch.ended));
      const stored = await storedEvents(a, created.traceId);
      expect(stored).toHaveLength(1 + TRANSPORTS.length + 1);
      for (const [index, { events, end }] of results.entries()) {
        const transport = TRANSPORTS[index] ?? 'sse';
        expect(end, transport).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(events, stored, { label: transport });
      }
    } finally {
      held.resolve();
      await endpoints.close();
    }
  });
});
