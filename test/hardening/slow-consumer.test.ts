import { describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';

import { defineStep } from '../../server/workers/define-step.js';
import { createDeferred, type Deferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { buddy } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';

const MAX_BUFFERED = 64 * 1024;
/** Big events fill socket buffers quickly; the data schema allows 4000 characters. */
const PADDING = 'x'.repeat(3900);
/** Bound on a burst that writes until the stalled client is cut, should the cut never come. */
const MAX_BURST = 20_000;

type Burst = { readonly start: Deferred<void>; count: number; stopped: boolean; written: number };

describe('slow consumers', () => {
  test('a client that stops reading is cut off (4008) without slowing a reading client, then resumes losing nothing', async () => {
    const bursts = new Map<string, Burst>();
    const burstStep = defineStep({
      name: 'Burst',
      title: 'Burst',
      subscribes: 'pet.created',
      emits: [],
      flows: ['petCreation'],
      async handler({ pet }, { streams, traceId }) {
        const burst = bursts.get(pet.name);
        if (!burst) throw new Error(`no burst planned for ${pet.name}`);
        await burst.start.promise;
        for (let i = 1; i <= burst.count && !burst.stopped; i += 1) {
          await streams.petCreation.set(traceId, 'burst', { message: `${i} ${PADDING}` });
          burst.written = i;
          if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      },
    });
    await using ctx = await startTestApp({
      steps: [burstStep],
      env: {
        WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED),
        WS_SLOW_CONSUMER_MS: '50',
        STREAM_HISTORY_LIMIT: '25000',
      },
    });

    const stalledSockets: StalledWebSocket[] = [];
    class StalledWebSocket extends WebSocket {
      readonly closeCodes: number[] = [];
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        stalledSockets.push(this);
        this.on('close', (code: number) => this.closeCodes.push(code));
      }
    }

    /** One workflow whose burst a reading client watches; returns its events and how long they took. */
    const run = async (
      name: string,
      count: number,
      stall?: (traceId: string, token: string) => Promise<void>,
    ) => {
      const burst: Burst = { start: createDeferred<void>(), count, stopped: false, written: 0 };
      bursts.set(name, burst);
      const created = await ctx.client.pets.create.mutate({ ...buddy, name });
      const subscribed = createDeferred<void>();
      const reader = (async () => {
        const events: PetCreationEvent[] = [];
        for await (const event of ctx.newClient().watchPetCreation(created.traceId, created.streamToken)) {
          events.push(event);
          if (events.length === 1) subscribed.resolve();
        }
        return { events, doneAt: performance.now() };
      })();
      await subscribed.promise;
      await stall?.(created.traceId, created.streamToken);
      const startedAt = performance.now();
      burst.start.resolve();
      const { events, doneAt } = await reader;
      return { burst, events, ms: doneAt - startedAt };
    };

    await run('Warm-up', 300);

    // The stalled client subscribes, then stops reading from its socket.
    let stalled: Promise<PetCreationEvent[]> | undefined;
    const withStall = run('Stalled', MAX_BURST, async (traceId, token) => {
      const client = ctx.newClient({ WebSocket: StalledWebSocket as unknown as typeof globalThis.WebSocket });
      const first = createDeferred<void>();
      stalled = (async () => {
        const events: PetCreationEvent[] = [];
        for await (const event of client.watchPetCreation(traceId, token)) {
          events.push(event);
          first.resolve();
        }
        return events;
      })();
      await first.promise;
      stalledSockets[0]?.pause();
    });

    // The server cuts it once its unsent output stays over the bound; the burst then ends.
    const cut = await vi.waitFor(
      () => {
        const line = ctx.logs.find((l) => l.msg === '🐢 Slow consumer disconnected');
        if (!line) throw new Error('not cut yet');
        return line;
      },
      { timeout: 15_000, interval: 5 },
    );
    const burst = bursts.get('Stalled');
    if (burst) burst.stopped = true;
    const slow = await withStall;
    expect(slow.burst.written).toBeLessThan(MAX_BURST);
    // Memory held for it stayed bounded: at most four times the bound, plus the event that crossed it.
    expect(cut['bufferedAmount']).toBeGreaterThan(MAX_BUFFERED);
    expect(cut['bufferedAmount']).toBeLessThanOrEqual(4 * MAX_BUFFERED + 2 * (PADDING.length + 500));

    // The reading client kept its pace: the same burst without the stalled client, as a ratio.
    const baseline = await run('Baseline', slow.burst.written);
    expect(baseline.events).toHaveLength(slow.events.length);
    const ratio = slow.ms / baseline.ms;
    expect(ratio).toBeLessThan(5);

    // Reading again, the stalled client finds the close frame (4008, slow consumer),
    // reconnects, resumes from its last event id and ends with the full list.
    stalledSockets[0]?.resume();
    const resumed = await stalled;
    expect(stalledSockets[0]?.closeCodes).toEqual([4008]);
    expect(stalledSockets.length).toBeGreaterThan(1);
    expect(resumed).toEqual(slow.events);
    expect(ctx.app.services.backends.streamStorage.listenerCount()).toBe(0);
    // The reading clients, bursts and all, were never taken for slow ones.
    expect(ctx.logs.filter((l) => l.msg === '🐢 Slow consumer disconnected')).toHaveLength(1);
  });
});
