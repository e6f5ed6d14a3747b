import { describe, expect, test, vi } from 'vitest';

import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { defineStep } from '../../server/engine/index.js';
import { createDeferred } from '../../shared/deferred.js';
import { collect } from '../support/async.js';
import { buddy } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';
import { storedNow } from '../support/stored.js';

/**
 * Step timeouts here are long enough for a retry's one write on a busy
 * machine; should a retry time out all the same, the next one runs, and the
 * assertions name whichever attempt succeeded.
 */
const STEP_TIMEOUT = { STEP_TIMEOUT_MS: '200', STEP_MAX_ATTEMPTS: '5' };

/** A turn of the event loop. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('faults in steps', () => {
  test('a retry never overlaps its timed-out attempt: it starts once that attempt has stopped', async () => {
    const timeline: string[] = [];
    let running = 0;
    let mostAtOnce = 0;
    const slowToStop = defineStep({
      name: 'SlowToStop',
      title: 'Slow to stop',
      subscribes: 'pet.created',
      topics: petTopics,
      streams: { petCreation: petCreationStream },
      async handler({ pet }, { attempt, signal, streams, traceId }) {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        timeline.push(`start ${attempt}`);
        try {
          if (attempt === 1) {
            await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
            timeline.push(`aborted ${attempt}`);
            // Cleanup that takes a few turns of the event loop after the abort, as closing a connection would.
            for (let turn = 0; turn < 5; turn += 1) await nextTurn();
            throw new Error('stopped');
          }
          await streams.petCreation.set(traceId, 'slow', { message: `attempt ${attempt} for ${pet.name}` });
        } finally {
          timeline.push(`end ${attempt}`);
          running -= 1;
        }
      },
    });
    await using ctx = await startTestApp({ steps: [slowToStop], env: STEP_TIMEOUT });
    const created = await ctx.client.pets.create.mutate(buddy);
    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));

    // Each attempt ends before the next starts: 1 timed out, 2 (or a later one) succeeded.
    const last = timeline.filter((entry) => entry.startsWith('start')).length;
    expect(last).toBeGreaterThanOrEqual(2);
    expect(timeline).toEqual([
      'start 1',
      'aborted 1',
      'end 1',
      ...Array.from({ length: last - 1 }, (_, i) => [`start ${i + 2}`, `end ${i + 2}`]).flat(),
    ]);
    expect(mostAtOnce).toBe(1);
    expect(events.map((e) => e.data?.message)).toEqual([
      created.stream.data?.message,
      `attempt ${last} for Buddy`,
      'Pet creation workflow finished for Buddy',
    ]);
  });

  test('an attempt that ignores its abort can no longer write: stream, store and bus refuse', async () => {
    const release = createDeferred<void>();
    const lateWrites = createDeferred<string[]>();
    let attempts = 0;
    const stubborn = defineStep({
      name: 'Stubborn',
      title: 'Stubborn step',
      subscribes: 'feeding.reminder.enqueued',
      topics: petTopics,
      emits: ['feeding.reminder.completed'],
      streams: { petCreation: petCreationStream },
      async handler({ pet }, { attempt, streams, services: { pets }, emit, traceId }) {
        attempts = attempt;
        if (attempt > 1) {
          await streams.petCreation.set(traceId, 'stubborn', {
            message: `attempt ${attempt} for ${pet.name}`,
          });
          return;
        }
        // Ignores its signal entirely, then tries to write long after its timeout.
        await release.promise;
        const outcomes = await Promise.all([
          streams.petCreation.set(traceId, 'stubborn', { message: 'late write' }).then(
            () => 'stream written',
            (error: unknown) => `stream refused: ${(error as Error).name}`,
          ),
          pets.update(pet.id, { notes: 'late write' }).then(
            () => 'store written',
            (error: unknown) => `store refused: ${(error as Error).name}`,
          ),
          emit('feeding.reminder.completed', {
            petId: pet.id,
            status: 'healthy',
            nextFeedingAt: 'late',
          }).then(
            () => 'bus written',
            (error: unknown) => `bus refused: ${(error as Error).name}`,
          ),
        ]);
        lateWrites.resolve(outcomes);
      },
    });
    await using ctx = await startTestApp({ steps: [stubborn], env: STEP_TIMEOUT });
    const created = await ctx.client.pets.create.mutate(buddy);
    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(events.map((e) => e.data?.message)).toEqual([
      created.stream.data?.message,
      `attempt ${attempts} for Buddy`,
      'Pet creation workflow finished for Buddy',
    ]);
    expect(
      ctx.logs.some((l) => l.msg === '⚠️ An aborted attempt is still running; its writes are refused'),
    ).toBe(true);
    const petBefore = await ctx.client.pets.get.query({ id: created.pet.id });

    release.resolve();
    expect(await lateWrites.promise).toEqual([
      'stream refused: TimeoutError',
      'store refused: TimeoutError',
      'bus refused: TimeoutError',
    ]);
    expect(await storedNow(ctx.app.engine, created.traceId)).toEqual(events);
    expect(await ctx.client.pets.get.query({ id: created.pet.id })).toEqual(petBefore);
  });

  test('failures are retried with exponential backoff, then the step is dead with its error', async () => {
    const failing = defineStep({
      name: 'AlwaysFails',
      title: 'Always failing step',
      subscribes: 'pet.created',
      topics: petTopics,
      streams: { petCreation: petCreationStream },
      async handler() {
        throw new Error('upstream unavailable');
      },
    });
    await using ctx = await startTestApp({
      steps: [failing],
      env: { STEP_MAX_ATTEMPTS: '4', STEP_RETRY_BASE_MS: '8' },
    });
    const created = await ctx.client.pets.create.mutate(buddy);
    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expect(events.map((e) => e.data?.message)).toEqual([
      created.stream.data?.message,
      '❌ Always failing step failed for Buddy; the workflow goes on without it',
      'Pet creation workflow finished for Buddy with 1 failed step',
    ]);
    const waits = ctx.logs
      .filter((l) => l.step === 'AlwaysFails' && l.level === 50)
      .map((l) => l['retryInMs']);
    expect(waits).toHaveLength(4);
    // Full jitter between half and all of base * 2^(attempt-1).
    const [first, second, third, last] = waits as [number, number, number, null];
    expect(first).toBeGreaterThanOrEqual(4);
    expect(first).toBeLessThanOrEqual(8);
    expect(second).toBeGreaterThanOrEqual(8);
    expect(second).toBeLessThanOrEqual(16);
    expect(third).toBeGreaterThanOrEqual(16);
    expect(third).toBeLessThanOrEqual(32);
    expect(last).toBeNull();
    await vi.waitFor(async () =>
      expect(await ctx.app.engine.bus.deadLetters()).toMatchObject([
        { consumer: 'AlwaysFails', attempts: 4, error: 'upstream unavailable' },
      ]),
    );
  });
});
