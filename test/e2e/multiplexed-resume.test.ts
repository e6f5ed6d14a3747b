/**
 * One workflow, several streams, one cursor: a pet creation writes its
 * `petCreation` and `petProfile` events into one ordered log, and
 * `workflows.onUpdate` (and its plain SSE route) resumes from any event of
 * that log, whichever stream it belongs to. For every resume point, on every
 * transport, on memory and on Redis, the server sends exactly the events
 * after it, each once and in order across both streams (only those of the
 * streams asked for, plus the finished event), then ends. Asserted on the
 * frames and blocks the server sends, with no client in between.
 */
import { afterAll, describe, expect, test } from 'vitest';

import { createDeferred } from '../../shared/deferred.js';
import { compareEventIds } from '../../shared/stream-event.js';
import { MAX_WATCHED_STREAMS } from '../../server/engine/transport/workflow-procedures.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { gatedSteps } from '../support/gated-steps.js';
import { max } from '../support/pets.js';
import { openRawWatch, parseBlock } from '../support/raw-watch.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  openWorkflowWatch,
  TRANSPORTS,
  watchWorkflow,
  type Transport,
  type WorkflowEvent,
  type WorkflowWatchRequest,
  type WorkflowWatchResult,
} from '../support/workflow-watch.js';

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

const backends = [
  { name: 'memory', env: {}, past: (id: string) => String(Number(id) + 1) },
  {
    name: 'redis',
    env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix },
    past: (id: string) => {
      const [ms = '0', seq = '0'] = id.split('-');
      return `${ms}-${Number(seq) + 1}`;
    },
  },
] as const;

/** The subscriptions asked for: every stream (none named), one of them, and each named. */
const FILTERS = [
  { label: 'all streams', streams: undefined },
  { label: 'petProfile only', streams: ['petProfile'] },
  { label: 'petCreation only', streams: ['petCreation'] },
  { label: 'both named', streams: ['petProfile', 'petCreation'] },
] as const;

/** What a subscription to `streams` gets of `log`: their events, and the finished event whatever its stream. */
const selected = (log: readonly WorkflowEvent[], streams: readonly string[] | undefined) =>
  log.filter((event) => streams === undefined || streams.includes(event.stream) || event.kind === 'finished');

/** A finished pet creation and its whole log, read once through `workflows.onUpdate` with no filter. */
async function finishedWorkflow(ctx: TestApp) {
  const created = await ctx.client.pets.create.mutate(max);
  await ctx.app.engine.workflows.onFinished(created.traceId);
  const request = { traceId: created.traceId, token: created.streamToken };
  const full = await watchWorkflow(ctx.url, 'ws', request);
  expect(full.end).toEqual({ kind: 'completed' });
  const log = full.events;
  // What the server sent is the log it stored, whole.
  const stored = await ctx.app.engine.backends.streamStorage.readAfter(created.traceId, null);
  expectExactlyOnceInOrder(log, stored.events, { label: 'the full log' });
  // Both streams share it, interleaved: a petProfile event comes between two petCreation events.
  const streams = log.map((event) => event.stream);
  expect(new Set(streams)).toEqual(new Set(['petCreation', 'petProfile']));
  const firstProfile = streams.indexOf('petProfile');
  expect(firstProfile).toBeGreaterThan(0);
  expect(streams.slice(firstProfile).includes('petCreation')).toBe(true);
  expect(log.filter((event) => event.stream === 'petProfile')).toHaveLength(4);
  expect(log.at(-1)?.kind).toBe('finished');
  expect(log.filter((event) => event.kind === 'finished')).toHaveLength(1);
  return { request, log };
}

/**
 * The frames or blocks around the events: on the WebSocket `started`, one
 * data frame per event, `stopped`; on tRPC's SSE `connected`, one block per
 * event, `return`; on plain SSE one block per event, its `event:` the kind.
 */
function expectFraming(transport: Transport, watch: WorkflowWatchResult, label: string): void {
  const { raw, events } = watch;
  switch (transport) {
    case 'ws':
      expect(raw[0], label).toBe('{"id":1,"result":{"type":"started"}}');
      expect(raw.at(-1), label).toBe('{"id":1,"result":{"type":"stopped"}}');
      expect(raw, label).toHaveLength(events.length + 2);
      break;
    case 'trpc-sse':
      expect(parseBlock(raw[0] ?? '').event, label).toBe('connected');
      expect(parseBlock(raw.at(-1) ?? '').event, label).toBe('return');
      expect(raw, label).toHaveLength(events.length + 2);
      break;
    case 'sse':
      expect(raw, label).toHaveLength(events.length);
      expect(
        raw.map((text) => parseBlock(text)).map((block) => [block.id, block.event]),
        label,
      ).toEqual(events.map((event) => [event.eventId, event.kind]));
      break;
  }
}

/** A resume from `after`: exactly the selected events after it, then the end (204 on plain SSE when nothing can follow). */
async function expectResume(
  ctx: TestApp,
  log: readonly WorkflowEvent[],
  request: WorkflowWatchRequest,
  transport: Transport,
): Promise<void> {
  const after = request.lastEventId ?? null;
  const label = `${transport} after ${after ?? 'nothing'}`;
  const expected = selected(log, request.streams).filter(
    (event) => after === null || compareEventIds(event.eventId, after) > 0,
  );
  const watch = await watchWorkflow(ctx.url, transport, request);
  if (expected.length === 0) {
    // Resumed from the finished event itself: nothing follows it.
    expect(watch.events, label).toEqual([]);
    expect(watch.end, label).toEqual(transport === 'sse' ? { kind: 'no-content' } : { kind: 'completed' });
    return;
  }
  expect(watch.end, label).toEqual({ kind: 'completed' });
  expectExactlyOnceInOrder(watch.events, selected(log, request.streams), { after, label });
  expectFraming(transport, watch, label);
}

describe.each(backends)('one cursor across a workflow’s streams ($name)', ({ env, past }) => {
  test.each(FILTERS)(
    '$label: from every event of the log, on every transport, exactly the events after it, then the end',
    async ({ streams }) => {
      await using ctx = await startTestApp({ env });
      const { request, log } = await finishedWorkflow(ctx);
      const withStreams = streams === undefined ? request : { ...request, streams };
      // From the start (no id, or `0` as a reset carries), then after each event of either stream.
      const resumePoints = [undefined, '0', ...log.map((event) => event.eventId)];
      for (const lastEventId of resumePoints) {
        await Promise.all(
          TRANSPORTS.map((transport) =>
            expectResume(
              ctx,
              log,
              lastEventId === undefined ? withStreams : { ...withStreams, lastEventId },
              transport,
            ),
          ),
        );
      }
    },
  );

  test('tRPC’s SSE resumes from the Last-Event-ID header (an EventSource reconnecting) as from the input', async () => {
    await using ctx = await startTestApp({ env });
    const { request, log } = await finishedWorkflow(ctx);
    for (const point of log.slice(0, -1)) {
      for (const streams of [undefined, ['petProfile']]) {
        const watched = {
          ...request,
          ...(streams === undefined ? {} : { streams }),
          lastEventId: point.eventId,
        };
        const label = `after ${point.eventId} ${streams?.join(',') ?? 'all streams'}`;
        const byHeader = await watchWorkflow(ctx.url, 'trpc-sse', { ...watched, resumeBy: 'header' });
        expect(byHeader.end, label).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(byHeader.events, selected(log, streams), { after: point.eventId, label });
        expectFraming('trpc-sse', byHeader, label);
      }
    }
  });

  test('petCreation.onUpdate (one stream) resumes from any id of the shared log, a petProfile one included', async () => {
    await using ctx = await startTestApp({ env });
    const { request, log } = await finishedWorkflow(ctx);
    const creation = selected(log, ['petCreation']);
    for (const point of log) {
      for (const transport of TRANSPORTS) {
        const label = `${transport} after ${point.stream} ${point.eventId}`;
        const watch = await openRawWatch(ctx.url, transport, { ...request, lastEventId: point.eventId });
        const sent = await watch.ended;
        watch.close();
        if (point.kind === 'finished') {
          expect(sent.events, label).toEqual([]);
          expect(sent.end, label).toEqual(
            transport === 'sse' ? { kind: 'no-content' } : { kind: 'completed' },
          );
          continue;
        }
        expect(sent.end, label).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(sent.events, creation, { after: point.eventId, label });
        expectFraming(transport, sent, label);
      }
    }
  });

  test('while the workflow runs: from every event so far, on every transport, the history after it, then the live events, each once', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({ env, steps: gatedSteps('FeedingReminder', feeding.promise) });
    try {
      const created = await ctx.client.pets.create.mutate(max);
      const request = { traceId: created.traceId, token: created.streamToken };
      // The enrichment step is done (both streams written); the feeding step waits.
      await ctx.waitForLog(
        (line) => line.traceId === created.traceId && line.msg === '✅ AI Profile Enrichment completed',
      );
      const { events: sofar } = await ctx.app.engine.backends.streamStorage.readAfter(created.traceId, null);
      expect(new Set(sofar.map((event) => event.stream))).toEqual(new Set(['petCreation', 'petProfile']));
      const watches = await Promise.all(
        sofar.flatMap((point) =>
          [undefined, ['petProfile']].flatMap((streams) =>
            TRANSPORTS.map(async (transport) => {
              const watched = {
                ...request,
                ...(streams === undefined ? {} : { streams }),
                lastEventId: point.eventId,
              };
              const watch = await openWorkflowWatch(ctx.url, transport, watched);
              // What is kept after the point comes at once, before anything new is written.
              const history = selected(sofar, streams).filter(
                (event) => compareEventIds(event.eventId, point.eventId) > 0,
              );
              await watch.received(history.length);
              expect(watch.events).toEqual(history);
              return { transport, watched, watch };
            }),
          ),
        ),
      );
      feeding.resolve();
      await ctx.app.engine.workflows.onFinished(created.traceId);
      const { events: log } = await ctx.app.engine.backends.streamStorage.readAfter(created.traceId, null);
      expect(log.length).toBeGreaterThan(sofar.length);
      for (const { transport, watched, watch } of watches) {
        const result = await watch.ended;
        watch.close();
        const label = `${transport} ${watched.streams?.join(',') ?? 'all streams'} after ${watched.lastEventId}`;
        expect(result.end, label).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(result.events, selected(log, watched.streams), {
          after: watched.lastEventId,
          label,
        });
        expectFraming(transport, result, label);
      }
    } finally {
      feeding.resolve();
    }
  });

  test.each(FILTERS)(
    '$label: resumed past the end of the log, a reset from 0, then the whole selection, then the end',
    async ({ streams }) => {
      await using ctx = await startTestApp({ env });
      const { request, log } = await finishedWorkflow(ctx);
      const lastEventId = past(log.at(-1)?.eventId ?? '');
      for (const transport of TRANSPORTS) {
        const watch = await watchWorkflow(ctx.url, transport, {
          ...request,
          ...(streams === undefined ? {} : { streams }),
          lastEventId,
        });
        expect(watch.end, transport).toEqual({ kind: 'completed' });
        expect(watch.events, transport).toEqual([
          expect.objectContaining({
            eventId: '0',
            // Named after the first stream asked for (the workflow's first when none is).
            stream: streams?.[0] ?? 'petCreation',
            groupId: request.traceId,
            itemId: 'history',
            kind: 'reset',
            data: null,
          }),
          ...selected(log, streams),
        ]);
        expectFraming(transport, watch, transport);
      }
    },
  );

  test('a stream the workflow does not have: BAD_REQUEST naming it, on every transport, nothing sent', async () => {
    await using ctx = await startTestApp({ env });
    const { request } = await finishedWorkflow(ctx);
    for (const streams of [['petAdoption'], ['petProfile', 'petAdoption', 'petCreation']]) {
      for (const transport of TRANSPORTS) {
        const watch = await watchWorkflow(ctx.url, transport, { ...request, streams });
        expect(watch.events, transport).toEqual([]);
        expect(watch.end, transport).toEqual({
          kind: 'error',
          code: 'BAD_REQUEST',
          message: 'Invalid input: streams: a petCreation workflow has no stream "petAdoption"',
        });
      }
    }
  });

  test(`at most ${MAX_WATCHED_STREAMS} streams per subscription: one more is BAD_REQUEST on every transport`, async () => {
    await using ctx = await startTestApp({ env });
    const { request, log } = await finishedWorkflow(ctx);
    // One known name repeated: only the count can make it invalid.
    const atMost = Array.from({ length: MAX_WATCHED_STREAMS }, () => 'petProfile');
    const tooMany = [...atMost, 'petProfile'];
    for (const transport of TRANSPORTS) {
      const allowed = await watchWorkflow(ctx.url, transport, { ...request, streams: atMost });
      expect(allowed.end, transport).toEqual({ kind: 'completed' });
      expect(allowed.events, transport).toEqual(selected(log, ['petProfile']));

      const refused = await watchWorkflow(ctx.url, transport, { ...request, streams: tooMany });
      expect(refused.events, transport).toEqual([]);
      expect(refused.end, transport).toEqual({
        kind: 'error',
        code: 'BAD_REQUEST',
        message: `Invalid input: streams: Too big: expected array to have <=${MAX_WATCHED_STREAMS} items`,
      });
    }
  });
});
