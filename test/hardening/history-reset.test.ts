import { describe, expect, test, vi } from 'vitest';

import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { collect } from '../support/async.js';
import { buddy } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp } from '../support/test-app.js';
import { petCreationOf, storedNow } from '../support/stored.js';

/** Events until the watch ends, and the error it ended with, if any. */
async function drain(iterable: AsyncIterable<PetCreationEvent>) {
  const events: PetCreationEvent[] = [];
  try {
    for await (const event of iterable) events.push(event);
    return { events, error: null };
  } catch (error) {
    return { events, error };
  }
}

describe('when history is gone, a resuming subscriber is told so', () => {
  test('trimmed past STREAM_HISTORY_LIMIT: a typed reset event, then what is still kept', async () => {
    await using ctx = await startTestApp({ env: { STREAM_HISTORY_LIMIT: '4' } });
    const created = await ctx.client.pets.create.mutate(buddy);
    await ctx.app.engine.workflows.onFinished(created.traceId);
    const watch = (lastEventId?: string) =>
      collect(ctx.client.watchPetCreation(created.traceId, created.streamToken, { lastEventId }));
    const ids = (events: readonly PetCreationEvent[]) => events.map((e) => `${e.kind}:${e.eventId}`);

    // The limit counts the workflow's log, its streams together; the two steps' events interleave,
    // so which of the last four are `petCreation` events is read from what is kept.
    const { events: log } = await ctx.app.engine.backends.streamStorage.readAfter(created.traceId, null);
    expect(log).toHaveLength(4);
    const oldestKept = Number(log[0]?.eventId);
    expect(oldestKept).toBeGreaterThan(4);
    const kept = await storedNow(ctx.app.engine, created.traceId);
    expect(kept.at(-1)?.kind).toBe('finished');

    const fresh = await watch();
    expect(ids(fresh)).toEqual(['reset:0', ...ids(kept)]);
    expect(fresh[0]).toMatchObject({
      kind: 'reset',
      itemId: 'history',
      groupId: created.traceId,
      data: null,
    });
    expect(ids(await watch('3'))).toEqual(['reset:3', ...ids(kept)]);
    // Nothing after the newest trimmed event was trimmed: no gap, no reset.
    expect(ids(await watch(String(oldestKept - 1)))).toEqual(ids(kept));
    const inside = String(oldestKept + 1);
    expect(ids(await watch(inside))).toEqual(ids(kept.filter((e) => Number(e.eventId) > Number(inside))));
  });

  test('expired after STREAM_RETENTION_MS: a resuming subscriber gets the reset event, then NOT_FOUND', async () => {
    // Long enough for the first watch to connect before the workflow expires.
    await using ctx = await startTestApp({ env: { STREAM_RETENTION_MS: '2000' } });
    const created = await ctx.client.pets.create.mutate(buddy);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expectCompleteWorkflow(all, buddy);
    await vi.waitFor(async () => expect(await ctx.app.engine.workflows.get(created.traceId)).toBeNull(), {
      timeout: 10_000,
      interval: 100,
    });
    expect(await petCreationOf(ctx.app.engine).getGroup(created.traceId)).toEqual([]);

    const resumed = await drain(
      ctx.client.watchPetCreation(created.traceId, created.streamToken, { lastEventId: '5' }),
    );
    expect(resumed.events).toEqual([
      expect.objectContaining({ kind: 'reset', eventId: '5', groupId: created.traceId }),
    ]);
    expect(resumed.error).toMatchObject({
      code: 'NOT_FOUND',
      message: 'No such workflow (unknown trace id, or its retention has passed)',
    });

    // A subscriber with nothing to resume has no gap to hear about.
    const fresh = await drain(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expect(fresh.events).toEqual([]);
    expect(fresh.error).toMatchObject({ code: 'NOT_FOUND' });
  });

  test('memory retention: an expired workflow leaves no stream group, items or listeners behind', async () => {
    // Long enough that a loaded machine still subscribes before a workflow expires.
    await using ctx = await startTestApp({ env: { STREAM_RETENTION_MS: '2000' } });
    const traceIds: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      const created = await ctx.client.pets.create.mutate({ ...buddy, name: `Buddy ${i}` });
      traceIds.push(created.traceId);
      await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    }
    const storage = ctx.app.engine.backends.streamStorage;
    await vi.waitFor(
      async () => {
        for (const traceId of traceIds) {
          expect(await storage.readAfter(traceId, null)).toEqual({ events: [], reset: false });
        }
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(storage.listenerCount()).toBe(0);
  });
});
