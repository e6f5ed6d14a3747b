/**
 * The memory backend keeps finished workflows within a count and a size
 * bound as well as a time bound: beyond MEMORY_MAX_WORKFLOWS or
 * MEMORY_MAX_BYTES the oldest finished workflows are evicted first, from the
 * stream storage, the workflow store and the trace store together, and
 * counted. Running workflows are never evicted. A watcher resuming an
 * evicted workflow is told as for an expired one: `reset`, then NOT_FOUND.
 */
import { describe, expect, test } from 'vitest';

import { createDeferred, type Deferred } from '../../shared/deferred.js';
import { loadConfig, type ConfigError } from '../../server/engine/config.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { defineStep } from '../../server/engine/index.js';
import { collect } from '../support/async.js';
import { buddy } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

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

/** Where a workflow is still kept: its state, its stream group, its trace. */
async function kept(ctx: TestApp, traceId: string) {
  const { engine } = ctx.app;
  return {
    state: (await engine.workflows.get(traceId)) !== null,
    stream: (await engine.backends.streamStorage.readAfter(traceId, null)).events.length > 0,
    trace: (await engine.observability.traces.get(traceId)) !== null,
  };
}

const everywhere = { state: true, stream: true, trace: true };
const nowhere = { state: false, stream: false, trace: false };

const evictedTotal = async (ctx: TestApp) =>
  /^pet_stream_workflows_evicted_total (\d+)$/m.exec(await ctx.app.engine.observability.metrics.text())?.[1];

/** A one-step workflow whose step finishes when the test releases that pet's gate. */
function heldWorkflows() {
  const gates = new Map<string, Deferred<void>>();
  const gate = (name: string) => {
    let deferred = gates.get(name);
    if (!deferred) {
      deferred = createDeferred<void>();
      gates.set(name, deferred);
    }
    return deferred;
  };
  const step = defineStep({
    name: 'Held',
    title: 'Held step',
    subscribes: 'pet.created',
    topics: petTopics,
    streams: { petCreation: petCreationStream },
    handler: async ({ pet }, { streams, traceId }) => {
      await gate(pet.name).promise;
      await streams.petCreation.set(traceId, 'message', { message: `Released ${pet.name}` });
    },
  });
  return {
    steps: [step],
    release: (name: string) => gate(name).resolve(),
    releaseAll: () => gates.forEach((g) => g.resolve()),
  };
}

describe('memory retention by count and size', () => {
  test('beyond MEMORY_MAX_WORKFLOWS, the oldest finished are evicted everywhere at once, and counted', async () => {
    await using ctx = await startTestApp({ env: { MEMORY_MAX_WORKFLOWS: '3' } });
    const created = [];
    for (let i = 1; i <= 5; i += 1) {
      const pet = { ...buddy, name: `Buddy ${i}` };
      const workflow = await ctx.client.pets.create.mutate(pet);
      expectCompleteWorkflow(
        await collect(ctx.client.watchPetCreation(workflow.traceId, workflow.streamToken)),
        pet,
      );
      created.push(workflow);
    }
    const where = await Promise.all(created.map((w) => kept(ctx, w.traceId)));
    expect(where).toEqual([nowhere, nowhere, everywhere, everywhere, everywhere]);
    expect(await evictedTotal(ctx)).toBe('2');

    // As after expiry: a resuming watcher learns its history is gone, then that the workflow is unknown.
    const [evicted] = created as [(typeof created)[number]];
    const resumed = await drain(
      ctx.client.watchPetCreation(evicted.traceId, evicted.streamToken, { lastEventId: '5' }),
    );
    expect(resumed.events).toEqual([
      expect.objectContaining({ kind: 'reset', eventId: '5', groupId: evicted.traceId, data: null }),
    ]);
    expect(resumed.error).toMatchObject({
      code: 'NOT_FOUND',
      message: 'No such workflow (unknown trace id, or its retention has passed)',
    });
    const fresh = await drain(ctx.client.watchPetCreation(evicted.traceId, evicted.streamToken));
    expect(fresh).toMatchObject({ events: [], error: { code: 'NOT_FOUND' } });
    expect(ctx.app.engine.backends.streamStorage.listenerCount()).toBe(0);
  });

  test('running workflows are never evicted; finished ones go in the order they finished', async () => {
    const held = heldWorkflows();
    await using ctx = await startTestApp({ env: { MEMORY_MAX_WORKFLOWS: '2' }, steps: held.steps });
    try {
      const ids = new Map<string, string>();
      for (const name of ['A', 'B', 'C', 'D']) {
        ids.set(name, (await ctx.client.pets.create.mutate({ ...buddy, name })).traceId);
      }
      const traceId = (name: string) => ids.get(name) ?? '';
      const finish = async (name: string) => {
        held.release(name);
        await ctx.app.engine.workflows.onFinished(traceId(name));
      };
      const where = async () =>
        Object.fromEntries(
          await Promise.all([...ids].map(async ([name, id]) => [name, await kept(ctx, id)])),
        );

      // Four running, above the bound of two: all kept.
      expect(await where()).toEqual({ A: everywhere, B: everywhere, C: everywhere, D: everywhere });
      await finish('C');
      await finish('A');
      expect(await evictedTotal(ctx)).toBe('0');
      // A third finished one: C finished first, so C goes, although A was created before it.
      await finish('D');
      expect(await where()).toEqual({ A: everywhere, B: everywhere, C: nowhere, D: everywhere });
      await finish('B');
      expect(await where()).toEqual({ A: nowhere, B: everywhere, C: nowhere, D: everywhere });
      expect(await evictedTotal(ctx)).toBe('2');
    } finally {
      held.releaseAll();
    }
  });

  test('beyond MEMORY_MAX_BYTES, the oldest finished go until the rest fits; running ones stay even above it', async () => {
    const held = heldWorkflows();
    const maxBytes = 20_000;
    await using ctx = await startTestApp({ env: { MEMORY_MAX_BYTES: String(maxBytes) }, steps: held.steps });
    try {
      const retention = ctx.app.engine.backends.retention;
      const finished: string[] = [];
      for (let i = 1; i <= 8; i += 1) {
        const { traceId } = await ctx.client.pets.create.mutate({ ...buddy, name: `Buddy ${i}` });
        held.release(`Buddy ${i}`);
        await ctx.app.engine.workflows.onFinished(traceId);
        finished.push(traceId);
        expect(retention.bytes).toBeLessThanOrEqual(maxBytes);
      }
      const where = await Promise.all(finished.map((id) => kept(ctx, id)));
      // The evicted ones are the oldest: what is kept is the newest few.
      const first = where.findIndex((w) => w.state);
      expect(first).toBeGreaterThan(0);
      expect(where).toEqual([
        ...Array<typeof nowhere>(first).fill(nowhere),
        ...Array<typeof everywhere>(8 - first).fill(everywhere),
      ]);
      expect(await evictedTotal(ctx)).toBe(String(first));

      // Running workflows past the bound: every finished one makes room, the running ones all stay.
      const running: string[] = [];
      for (let i = 1; retention.bytes <= maxBytes; i += 1) {
        running.push((await ctx.client.pets.create.mutate({ ...buddy, name: `Running ${i}` })).traceId);
      }
      expect(retention.finishedCount).toBe(0);
      for (const id of running) expect(await kept(ctx, id)).toEqual(everywhere);
      expect((await Promise.all(finished.map((id) => kept(ctx, id)))).every((w) => !w.state)).toBe(true);
    } finally {
      held.releaseAll();
    }
  });
});

describe('MEMORY_MAX_WORKFLOWS and MEMORY_MAX_BYTES', () => {
  test('defaults, and the smallest values accepted', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(loadConfig({}).streams).toMatchObject({ memoryMaxWorkflows: 10_000, memoryMaxBytes: 134_217_728 });
    expect(problems({ MEMORY_MAX_WORKFLOWS: '1', MEMORY_MAX_BYTES: '1024' })).toEqual([]);
    expect(problems({ MEMORY_MAX_WORKFLOWS: '0', MEMORY_MAX_BYTES: '1023' })).toEqual([
      'MEMORY_MAX_WORKFLOWS: Too small: expected number to be >=1 (got "0")',
      'MEMORY_MAX_BYTES: Too small: expected number to be >=1024 (got "1023")',
    ]);
  });
});
