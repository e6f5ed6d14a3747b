/**
 * Partial updates and ephemeral events, end to end on every transport (raw
 * WebSocket frames, tRPC's SSE, plain SSE), on memory and on Redis:
 * concurrent increments of one item never lose each other (also from two
 * instances on one Redis), an update whose result the schema refuses stores
 * nothing, and a `send` reaches the live watchers but is neither stored
 * nor replayed.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { ZodError } from 'zod';

import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petCreationWorkflow } from '../../server/app/pet-shelter/pets/workflow.js';
import type { ApplicationServices, StepDefinition } from '../../server/engine/index.js';
import { createDeferred } from '../../shared/deferred.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { max } from '../support/pets.js';
import { bothBackends, deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { storedLog } from '../support/stored.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openWorkflowWatch, TRANSPORTS, watchWorkflow } from '../support/workflow-watch.js';

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

const backends = bothBackends(prefix);

type Step = StepDefinition<ApplicationServices>;
type StepContext = Parameters<Step['handle']>[1];

/** The pet creation's steps with the enrichment replaced by `work`, run once `gate` resolves. */
function stepsWith(work: (ctx: StepContext) => Promise<void>, gate: Promise<void>): readonly Step[] {
  return petCreationWorkflow.steps.map((step) =>
    step.name === 'AiProfileEnrichment'
      ? {
          ...step,
          handle: async (_data: unknown, ctx: StepContext) => {
            await gate;
            await work(ctx);
          },
        }
      : step,
  );
}

const COUNTER = 'counter';
const increment = [
  { op: 'increment', path: 'progress' },
  { op: 'set', path: 'message', value: 'Counting' },
] as const;

const stored = (ctx: TestApp, traceId: string) => storedLog(ctx.app.engine, traceId);

/** Watches on every transport, each having received what is stored so far. */
async function watchEverywhere(ctx: TestApp, request: { traceId: string; token: string }) {
  const watches = await Promise.all(
    TRANSPORTS.map((transport) => openWorkflowWatch(ctx.url, transport, request)),
  );
  const sofar = (await stored(ctx, request.traceId)).length;
  await Promise.all(watches.map((watch) => watch.received(sofar)));
  return watches;
}

describe.each(backends)('partial updates and ephemeral events ($name)', ({ env }) => {
  test('100 concurrent increments of one item end at exactly 100; every watcher sees 1 to 100 in order', async () => {
    const gate = createDeferred<void>();
    const work = async ({ streams, traceId }: StepContext) => {
      const stream = streams['petCreation'];
      if (!stream) throw new Error('no petCreation stream');
      await Promise.all(Array.from({ length: 100 }, () => stream.update(traceId, COUNTER, increment)));
    };
    await using ctx = await startTestApp({ env, steps: stepsWith(work, gate.promise) });
    const created = await ctx.client.pets.create.mutate(max);
    const request = { traceId: created.traceId, token: created.streamToken };
    const watches = await watchEverywhere(ctx, request);
    gate.resolve();
    await ctx.app.engine.workflows.onFinished(created.traceId);

    const log = await stored(ctx, created.traceId);
    const counts = log.filter((event) => event.itemId === COUNTER).map((event) => event.data);
    expect(counts).toEqual(Array.from({ length: 100 }, (_, i) => ({ message: 'Counting', progress: i + 1 })));
    const item = await ctx.app.engine.workflowLog.stream(petCreationStream).get(created.traceId, COUNTER);
    expect(item?.data).toEqual({ message: 'Counting', progress: 100 });
    for (const [i, watch] of (await Promise.all(watches.map((w) => w.ended))).entries()) {
      expect(watch.end, TRANSPORTS[i]).toEqual({ kind: 'completed' });
      expectExactlyOnceInOrder(watch.events, log, { label: TRANSPORTS[i] });
    }
  });

  test('an update whose result the schema refuses stores nothing and names the field; one of an unknown shape is refused', async () => {
    await using ctx = await startTestApp({ env });
    const created = await ctx.client.pets.create.mutate(max);
    await ctx.app.engine.workflows.onFinished(created.traceId);
    const stream = ctx.app.engine.workflowLog.stream(petCreationStream);
    const before = await stored(ctx, created.traceId);

    await stream.update(created.traceId, COUNTER, [
      { op: 'set', path: 'message', value: 'Counting' },
      { op: 'set', path: 'progress', value: 99 },
    ]);
    await stream.update(created.traceId, COUNTER, [{ op: 'increment', path: 'progress' }]);
    // 100 is the schema's bound: one more is refused, whole.
    const tooFar = await stream
      .update(created.traceId, COUNTER, [
        { op: 'set', path: 'message', value: 'Past the end' },
        { op: 'increment', path: 'progress' },
      ])
      .catch((error: unknown) => error);
    expect(tooFar).toBeInstanceOf(ZodError);
    expect((tooFar as ZodError).issues.map((issue) => issue.path)).toEqual([['progress']]);
    const wrongType = await stream
      .update(created.traceId, COUNTER, [{ op: 'append', path: 'progress', value: 1 }])
      .catch((error: unknown) => error);
    expect(wrongType).toMatchObject({
      name: 'InvalidUpdate',
      message: 'operation 1 (append progress): the field is not an array',
    });

    const after = await stored(ctx, created.traceId);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length).map((event) => event.data)).toEqual([
      { message: 'Counting', progress: 99 },
      { message: 'Counting', progress: 100 },
    ]);
    expect((await stream.get(created.traceId, COUNTER))?.data).toEqual({
      message: 'Counting',
      progress: 100,
    });
  });

  test('a send reaches every live watcher, with the id they had reached, and is neither stored nor replayed', async () => {
    const gate = createDeferred<void>();
    const drafts = ['Max is', 'Max is a friendly', 'Max is a friendly dog'];
    const work = async ({ streams, traceId }: StepContext) => {
      const stream = streams['petCreation'];
      if (!stream) throw new Error('no petCreation stream');
      for (const draft of drafts) await stream.send(traceId, { itemId: 'draft', data: { message: draft } });
      await stream.set(traceId, 'draft', { message: 'Max is a friendly dog.' });
    };
    await using ctx = await startTestApp({ env, steps: stepsWith(work, gate.promise) });
    const created = await ctx.client.pets.create.mutate(max);
    const request = { traceId: created.traceId, token: created.streamToken };
    const watches = await watchEverywhere(ctx, request);
    const position = (await stored(ctx, created.traceId)).length;
    gate.resolve();
    await ctx.app.engine.workflows.onFinished(created.traceId);

    const log = await stored(ctx, created.traceId);
    expect(log.filter((event) => event.itemId === 'draft').map((event) => [event.kind, event.data])).toEqual([
      ['set', { message: 'Max is a friendly dog.' }],
    ]);
    for (const [i, watch] of (await Promise.all(watches.map((w) => w.ended))).entries()) {
      const label = TRANSPORTS[i] ?? '';
      expect(watch.end, label).toEqual({ kind: 'completed' });
      const sent = watch.events.filter((event) => event.kind === 'ephemeral');
      expect(
        sent.map((event) => [event.itemId, event.data]),
        label,
      ).toEqual(drafts.map((message) => ['draft', { message }]));
      // Each carries the id of the stored event before it: resuming after it loses nothing.
      for (const event of sent) {
        const at = watch.events.indexOf(event);
        const before = watch.events.slice(0, at).filter((e) => e.kind !== 'ephemeral');
        expect(event.eventId, label).toBe(before.at(-1)?.eventId);
        expect(event.groupId, label).toBe(created.traceId);
      }
      expect(
        watch.events.filter((event) => event.kind !== 'ephemeral'),
        label,
      ).toEqual(log);
      // They came while the watch was live, after all it had received before the step began.
      expect(
        watch.events.findIndex((event) => event.kind === 'ephemeral'),
        label,
      ).toBeGreaterThanOrEqual(position);
    }
    // A watch of the finished workflow, from the start, gets the stored log alone.
    for (const transport of TRANSPORTS) {
      const replay = await watchWorkflow(ctx.url, transport, request);
      expectExactlyOnceInOrder(replay.events, log, { label: `${transport} replay` });
    }
  });
});

describe('concurrent updates from two instances (redis)', () => {
  test('50 increments on each of two instances end at exactly 100, each value once', async () => {
    const shared = randomKeyPrefix();
    try {
      const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: shared };
      await using first = await startTestApp({ env });
      await using second = await startTestApp({ env });
      const created = await first.client.pets.create.mutate(max);
      await first.app.engine.workflows.onFinished(created.traceId);
      const streams = [first, second].map((ctx) => ctx.app.engine.workflowLog.stream(petCreationStream));
      await Promise.all(
        streams.flatMap((stream) =>
          Array.from({ length: 50 }, () => stream.update(created.traceId, COUNTER, increment)),
        ),
      );
      const log = await stored(first, created.traceId);
      expect(log.filter((event) => event.itemId === COUNTER).map((event) => event.data)).toEqual(
        Array.from({ length: 100 }, (_, i) => ({ message: 'Counting', progress: i + 1 })),
      );
    } finally {
      await deleteKeys(shared);
    }
  });
});
