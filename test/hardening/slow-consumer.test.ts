import type { Socket } from 'node:net';

import { describe, expect, test, vi } from 'vitest';

import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { defineStep } from '../../server/engine/index.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { SETTLES } from '../support/async.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { buddy } from '../support/pets.js';
import { openRawWatch } from '../support/raw-watch.js';
import { tapTransports } from '../support/tapped-transports.js';
import { startTestApp } from '../support/test-app.js';
import { storedNow } from '../support/stored.js';

const MAX_BUFFERED = 64 * 1024;
/** Big events fill socket buffers quickly; the data schema allows 4000 characters. */
const PADDING = 'x'.repeat(3900);
/** Bound on a burst that writes until the stalled client is cut, should the cut never come. */
const MAX_BURST = 20_000;
const CUT = '🐢 Slow consumer disconnected';

describe('slow consumers', () => {
  test('a client that stops reading is cut off (4008) without holding up a reading client, then resumes losing nothing', async () => {
    // The burst writes until the server holds more than the bound for the
    // stalled client (it is behind), waits there while the test looks, then
    // writes on until the stalled client is cut.
    let stalledOnServer: Socket | undefined;
    const behind = createDeferred<number>();
    const goOn = createDeferred<void>();
    const start = createDeferred<void>();
    let cut = false;
    const burstStep = defineStep({
      name: 'Burst',
      title: 'Burst',
      subscribes: 'pet.created',
      topics: petTopics,
      streams: { petCreation: petCreationStream },
      async handler(_input, { streams, traceId }) {
        await start.promise;
        let waited = false;
        for (let i = 1; i <= MAX_BURST && !cut; i += 1) {
          await streams.petCreation.set(traceId, 'burst', { message: `${i} ${PADDING}` });
          if (!waited && (stalledOnServer?.writableLength ?? 0) > MAX_BUFFERED) {
            waited = true;
            behind.resolve(i);
            await goOn.promise;
          }
          if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      },
    });
    await using ctx = await startTestApp({
      steps: [burstStep],
      env: {
        WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED),
        // Only the hard limit (four times the bound) cuts here: no grace time runs out during the test.
        WS_SLOW_CONSUMER_MS: '60000',
        STREAM_HISTORY_LIMIT: String(MAX_BURST + 10),
      },
    });
    // The server's side of the stalled client's connection: its unsent bytes are what the server holds for it.
    ctx.app.server.on('upgrade', (req: { headers: Record<string, unknown> }, socket: Socket) => {
      if (req.headers['x-test-client'] === 'stalled') stalledOnServer ??= socket;
    });
    void ctx
      .waitForLog((line) => line.msg === CUT)
      .then(() => {
        cut = true;
      });

    const created = await ctx.client.pets.create.mutate(buddy);
    const request = { traceId: created.traceId, token: created.streamToken };
    // A reading client, raw on the WebSocket, and a real client that stops reading after its first event.
    const reader = await openRawWatch(ctx.url, 'ws', request);
    await reader.received(1);
    const tap = tapTransports({ headers: { 'x-test-client': 'stalled' } });
    const stalledClient = ctx.newClient({ WebSocket: tap.WebSocket });
    const first = createDeferred<void>();
    const stalled = (async () => {
      const events: PetCreationEvent[] = [];
      for await (const event of stalledClient.watchPetCreation(created.traceId, created.streamToken)) {
        events.push(event);
        first.resolve();
      }
      return events;
    })();
    await first.promise;
    tap.sockets[0]?.socket.pause();
    start.resolve();

    // The server holds more than the bound for the stalled client; the
    // reading client still gets every event written so far, and the stalled
    // one is still connected, not cut.
    const written = await behind.promise;
    await reader.received(1 + written);
    expect(reader.events.at(-1)?.data?.message).toBe(`${written} ${PADDING}`);
    expect(ctx.logs.some((line) => line.msg === CUT)).toBe(false);
    expect(stalledOnServer?.destroyed).toBe(false);
    expect(stalledOnServer?.writableLength).toBeGreaterThan(MAX_BUFFERED);

    // Writing on, the server cuts it once it holds four times the bound, and
    // memory held for it stayed bounded: that, plus the event that crossed it.
    goOn.resolve();
    const cutLine = await ctx.waitForLog((line) => line.msg === CUT);
    expect(cutLine['bufferedAmount']).toBeGreaterThan(4 * MAX_BUFFERED);
    expect(cutLine['bufferedAmount']).toBeLessThanOrEqual(4 * MAX_BUFFERED + 2 * (PADDING.length + 500));

    // The burst stops at the cut: the reading client gets the whole workflow, each event once.
    const read = await reader.ended;
    const stored = await storedNow(ctx.app.engine, created.traceId);
    expect(stored.length).toBeLessThan(MAX_BURST);
    expect(read.end).toEqual({ kind: 'completed' });
    expectExactlyOnceInOrder(read.events, stored, { label: 'reading client' });

    // Reading again, the stalled client finds the close frame (4008, slow consumer),
    // reconnects, resumes from its last event id and ends with the full list;
    // across its two connections, the server sent each event once.
    tap.sockets[0]?.socket.resume();
    expect(await stalled).toEqual(stored);
    expect(tap.sockets[0]?.closeCodes).toEqual([4008]);
    expect(tap.sockets.length).toBeGreaterThan(1);
    expectExactlyOnceInOrder(tap.events(), stored, { label: 'sent to the stalled client' });
    await vi.waitFor(() => expect(ctx.app.engine.backends.streamStorage.listenerCount()).toBe(0), SETTLES);
    // The reading client, bursts and all, was never taken for a slow one.
    expect(ctx.logs.filter((line) => line.msg === CUT)).toHaveLength(1);
  });
});
