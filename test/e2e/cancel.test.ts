/**
 * `workflows.cancel`: running steps get their abort signal, a final event of
 * kind `cancelled` ends every subscription and SSE response, and a resume
 * after any event gets the rest up to that event, then completes. On every
 * transport (raw WebSocket frames, tRPC's SSE, plain SSE), on memory and on
 * Redis, asserted on what the server sends against what it stored.
 */
import { afterAll, describe, expect, test } from 'vitest';

import { petCreationWorkflow } from '../../server/app/pet-shelter/pets/workflow.js';
import { WorkflowCancelled } from '../../server/engine/index.js';
import { createDeferred } from '../../shared/deferred.js';
import { compareEventIds } from '../../shared/stream-event.js';
import { createTestCaller } from '../support/caller.js';
import { rejection } from '../support/errors.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { gatedSteps, stepsWaitingForAbort } from '../support/gated-steps.js';
import { buddy, max } from '../support/pets.js';
import { bothBackends, deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { storedLog } from '../support/stored.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openWorkflowWatch, TRANSPORTS, watchWorkflow } from '../support/workflow-watch.js';

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

const backends = bothBackends(prefix);

const stored = (ctx: TestApp, traceId: string) => storedLog(ctx.app.engine, traceId);

const feedingDone = (ctx: TestApp, traceId: string) =>
  ctx.waitForLog((line) => line.traceId === traceId && line.msg === '✅ Next feeding reminder set');

describe.each(backends)('cancelling a workflow ($name)', ({ env }) => {
  test('the running step is aborted; every watch ends with the cancelled event; every resume gets the rest, then completes', async () => {
    const waiting = stepsWaitingForAbort('AiProfileEnrichment');
    await using ctx = await startTestApp({ env, steps: waiting.steps });
    const created = await ctx.client.pets.create.mutate(max);
    const request = { traceId: created.traceId, token: created.streamToken };
    await waiting.started;
    await feedingDone(ctx, created.traceId);
    const before = await stored(ctx, created.traceId);
    const watches = await Promise.all(
      TRANSPORTS.map((transport) => openWorkflowWatch(ctx.url, transport, request)),
    );
    await Promise.all(watches.map((watch) => watch.received(before.length)));

    const answer = await ctx.client.trpc.workflows.cancel.mutate(request);

    expect(await waiting.aborted).toBeInstanceOf(WorkflowCancelled);
    const ended = await Promise.all(watches.map((watch) => watch.ended));
    await ctx.app.engine.bus.onIdle();
    const log = await stored(ctx, created.traceId);
    // Nothing more than the cancelled event was written, and nothing after it (no finished event).
    expect(log).toHaveLength(before.length + 1);
    expect(log.slice(0, before.length)).toEqual(before);
    expect(log.at(-1)).toMatchObject({
      eventId: answer.eventId,
      stream: 'petCreation',
      itemId: 'workflow',
      kind: 'cancelled',
      data: { message: 'Pet creation workflow for Max was cancelled', stage: 'finished' },
    });
    expect(answer).toEqual({ traceId: created.traceId, eventId: log.at(-1)?.eventId });
    ended.forEach((watch, i) => {
      const label = TRANSPORTS[i] ?? '';
      expect(watch.end, label).toEqual({ kind: 'completed' });
      expectExactlyOnceInOrder(watch.events, log, { label });
    });

    // From the start and after every event: the rest up to the cancelled event, then the end.
    for (const lastEventId of [undefined, ...log.map((event) => event.eventId)]) {
      await Promise.all(
        TRANSPORTS.map(async (transport) => {
          const label = `${transport} after ${lastEventId ?? 'nothing'}`;
          const watch = await watchWorkflow(
            ctx.url,
            transport,
            lastEventId === undefined ? request : { ...request, lastEventId },
          );
          if (lastEventId === answer.eventId) {
            expect(watch.events, label).toEqual([]);
            expect(watch.end, label).toEqual(
              transport === 'sse' ? { kind: 'no-content' } : { kind: 'completed' },
            );
            return;
          }
          expect(watch.end, label).toEqual({ kind: 'completed' });
          expectExactlyOnceInOrder(watch.events, log, { after: lastEventId ?? null, label });
        }),
      );
    }

    const state = await ctx.app.engine.workflows.get(created.traceId);
    expect(state?.cancelledAt).not.toBeNull();
    expect(state?.finishedAt).toBe(state?.cancelledAt);
    const again = await ctx.client.trpc.workflows.cancel.mutate(request).then(
      () => null,
      (error: unknown) => error,
    );
    expect(again).toMatchObject({
      message: 'The workflow has already been cancelled',
      data: { code: 'CONFLICT', httpStatus: 409 },
    });
  });

  test('a step that had not written yet writes nothing after the cancel, and its services are fenced', async () => {
    const gate = createDeferred<void>();
    const waiting = stepsWaitingForAbort('AiProfileEnrichment', gatedSteps('FeedingReminder', gate.promise));
    await using ctx = await startTestApp({ env, steps: waiting.steps });
    const created = await ctx.client.pets.create.mutate(buddy);
    await waiting.started;
    await ctx.client.trpc.workflows.cancel.mutate({ traceId: created.traceId, token: created.streamToken });
    gate.resolve();
    await ctx.waitForLog(
      (line) =>
        line.traceId === created.traceId &&
        line.msg === '⏹️ FeedingReminder stopped: the workflow was cancelled',
    );
    await ctx.app.engine.bus.onIdle();

    const log = await stored(ctx, created.traceId);
    expect(log.map((event) => [event.itemId, event.kind])).toEqual([
      ['message', 'set'],
      ['workflow', 'cancelled'],
    ]);
    const pet = await ctx.client.pets.get.query({ id: created.pet.id });
    expect(pet.status).toBe('new');
  });

  test('the client library’s watch ends with the cancelled event, over WebSocket and over SSE', async () => {
    const waiting = stepsWaitingForAbort('AiProfileEnrichment');
    await using ctx = await startTestApp({ env, steps: waiting.steps });
    const created = await ctx.client.pets.create.mutate(max);
    await waiting.started;
    await feedingDone(ctx, created.traceId);
    const watched = await Promise.all(
      (['ws', 'sse'] as const).map(async (transport) => {
        const client = ctx.newClient({ transport });
        const events = [];
        const first = createDeferred<void>();
        const watch = client.watch('petCreation', created.traceId, created.streamToken);
        const done = (async () => {
          for await (const event of watch) {
            events.push(event);
            first.resolve();
          }
          return events;
        })();
        await first.promise;
        // Wrapped: an async function returning the promise itself would wait for it.
        return { done };
      }),
    );
    await ctx.client.trpc.workflows.cancel.mutate({ traceId: created.traceId, token: created.streamToken });
    const log = await stored(ctx, created.traceId);
    for (const events of await Promise.all(watched.map((watch) => watch.done))) {
      expect(events).toEqual(log);
      expect(events.at(-1)?.kind).toBe('cancelled');
    }
  });
});

describe('cancelling on another instance (redis)', () => {
  test('the step running on the instance that started the workflow is aborted; watches on both end', async () => {
    const shared = randomKeyPrefix();
    try {
      const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: shared };
      const waiting = stepsWaitingForAbort('AiProfileEnrichment');
      await using first = await startTestApp({ env, steps: waiting.steps });
      // The second instance runs no enrichment: the waiting step can only run on the first.
      await using second = await startTestApp({
        env,
        steps: petCreationWorkflow.steps.filter((step) => step.name !== 'AiProfileEnrichment'),
      });
      const created = await first.client.pets.create.mutate(max);
      const request = { traceId: created.traceId, token: created.streamToken };
      await waiting.started;
      const watches = await Promise.all(
        [first, second].map((ctx) => openWorkflowWatch(ctx.url, 'sse', request)),
      );
      await Promise.all(watches.map((watch) => watch.received(1)));

      const answer = await second.client.trpc.workflows.cancel.mutate(request);

      expect(await waiting.aborted).toBeInstanceOf(WorkflowCancelled);
      for (const watch of await Promise.all(watches.map((w) => w.ended))) {
        expect(watch.end).toEqual({ kind: 'completed' });
        expect(watch.events.at(-1)).toMatchObject({ eventId: answer.eventId, kind: 'cancelled' });
        const ids = watch.events.map((event) => event.eventId);
        expect([...ids].sort(compareEventIds)).toEqual(ids);
      }
    } finally {
      await deleteKeys(shared);
    }
  });
});

describe('cancel errors', () => {
  test('a token is required and must be this workflow’s; an unknown workflow is NOT_FOUND; a finished one CONFLICT', async () => {
    const waiting = stepsWaitingForAbort('AiProfileEnrichment');
    await using ctx = createTestCaller({ steps: waiting.steps });
    const { caller, engine } = ctx;
    const running = await caller.pets.create(max);
    const other = await caller.pets.create(buddy);

    const missing = await rejection(caller.workflows.cancel({ traceId: running.traceId }));
    expect([missing.code, missing.message]).toEqual(['UNAUTHORIZED', 'A stream token is required']);
    const forged = await rejection(
      caller.workflows.cancel({ traceId: running.traceId, token: `${running.streamToken.slice(0, -2)}AA` }),
    );
    expect(forged.code).toBe('UNAUTHORIZED');
    const foreign = await rejection(
      caller.workflows.cancel({ traceId: running.traceId, token: other.streamToken }),
    );
    expect([foreign.code, foreign.message]).toEqual([
      'FORBIDDEN',
      'The stream token belongs to another workflow',
    ]);
    const badId = await rejection(caller.workflows.cancel({ traceId: 'nope', token: running.streamToken }));
    expect(badId.code).toBe('BAD_REQUEST');
    expect(badId.message).toContain('traceId');

    const unknownId = '0123456789abcdef0123456789abcdef';
    const unknown = await rejection(
      caller.workflows.cancel({ traceId: unknownId, token: engine.tokens.issue('petCreation', unknownId) }),
    );
    expect(unknown.code).toBe('NOT_FOUND');
    // Nothing was cancelled by the refused calls; the right token still cancels it.
    expect((await engine.workflows.get(running.traceId))?.cancelledAt).toBeNull();
    await caller.workflows.cancel({ traceId: running.traceId, token: running.streamToken });
    await caller.workflows.cancel({ traceId: other.traceId, token: other.streamToken });

    // A workflow that finished by itself cannot be cancelled any more.
    await using plain = createTestCaller();
    const done = await plain.caller.pets.create(buddy);
    await plain.engine.workflows.onFinished(done.traceId);
    const finished = await rejection(
      plain.caller.workflows.cancel({ traceId: done.traceId, token: done.streamToken }),
    );
    expect([finished.code, finished.message]).toEqual([
      'CONFLICT',
      'The workflow has already finished; only a running workflow can be cancelled',
    ]);
    const { events } = await plain.engine.backends.streamStorage.readAfter(done.traceId, null);
    expect(events.filter((event) => event.kind === 'cancelled')).toEqual([]);
  });
});
