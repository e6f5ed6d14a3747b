import type { Socket } from 'node:net';

import { describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';

import { Stream } from '../../server/streams/define-stream.js';
import { petCreationStream } from '../../server/streams/definitions/pet-creation-stream.js';
import { MemoryStreamStorage } from '../../server/streams/memory-stream-storage.js';
import { defineStep } from '../../server/workers/define-step.js';
import type { PetInput } from '../../shared/pet.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { collect } from '../support/async.js';
import { buddy, luna, max } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createPrng } from './support/prng.js';

/** The server side of every WebSocket, so that a test can cut one as the network would. */
function trackUpgradedSockets(ctx: TestApp): Set<Socket> {
  const sockets = new Set<Socket>();
  ctx.app.server.on('upgrade', (_req, socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

async function storedEvents(ctx: TestApp, traceId: string) {
  return (await ctx.app.services.backends.streamStorage.readAfter('petCreation', traceId, null)).events;
}

describe('no event lost or duplicated, from each subscriber’s point of view', () => {
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
    await vi.waitFor(() => expect(ctx.app.services.backends.streamStorage.listenerCount()).toBe(0));
  });

  test('events written while subscribers replay history reach each of them exactly once', async () => {
    const BURST = 1500;
    const go = createDeferred<void>();
    const burst = defineStep({
      name: 'Burst',
      title: 'Burst',
      subscribes: 'pet.created',
      emits: [],
      flows: ['petCreation'],
      async handler({ pet }, { streams, traceId }) {
        await go.promise;
        for (let i = 1; i <= BURST; i += 1) {
          await streams.petCreation.set(traceId, 'burst', {
            message: `${pet.name} ${i}`,
            progress: (i / BURST) * 100,
          });
          // Let subscriptions start between writes, so that they join mid-burst.
          if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      },
    });
    await using ctx = await startTestApp({ steps: [burst], env: { STREAM_HISTORY_LIMIT: '10000' } });
    const created = await ctx.client.pets.create.mutate(buddy);

    // Subscribers join as the burst reaches each mark, by a listener on the stream itself.
    const watchers: Promise<PetCreationEvent[]>[] = [];
    const marks = new Set(Array.from({ length: 10 }, (_, i) => String(2 + i * 150)));
    const unlisten = ctx.app.services.backends.streamStorage.listen(
      'petCreation',
      created.traceId,
      (event) => {
        if (marks.has(event.eventId)) {
          watchers.push(collect(ctx.newClient().watchPetCreation(created.traceId, created.streamToken)));
        }
      },
    );
    go.resolve();
    await ctx.app.services.workflows.onFinished(created.traceId);
    unlisten();
    expect(watchers).toHaveLength(10);

    const stored = await storedEvents(ctx, created.traceId);
    expect(stored).toHaveLength(BURST + 2);
    for (const events of await Promise.all(watchers)) expect(events).toEqual(stored);
  });

  test('a subscriber that falls behind while history is trimmed gets a reset, then everything still kept', async () => {
    const storage = new MemoryStreamStorage({ historyLimit: 10, retentionMs: 60_000 });
    const stream = new Stream(petCreationStream, storage, { subscriberBufferLimit: 5 });
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
