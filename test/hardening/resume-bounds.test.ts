/**
 * Resuming from an id that is no position of the workflow's log: past its
 * newest event, or (on Redis) another workflow's id. Every transport, on
 * memory and on Redis, answers at once with a `reset` carrying id `0`, then
 * the whole history: nothing skipped, nothing left hanging. Resuming from
 * the finished event itself ends at once. Asserted on what the server sends.
 */
import { afterAll, describe, expect, test } from 'vitest';

import { createDeferred } from '../../shared/deferred.js';
import { compareEventIds } from '../../shared/stream-event.js';
import { collect } from '../support/async.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy, max } from '../support/pets.js';
import {
  parseBlock,
  TRANSPORTS,
  watchEndpoints,
  type RawWatch,
  type Transport,
} from '../support/raw-watch.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { petCreationOf } from '../support/stored.js';

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

const backends = [
  { name: 'memory', env: {}, after: (id: string) => String(Number(id) + 1) },
  {
    name: 'redis',
    env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix },
    after: (id: string) => {
      const [ms = '0', seq = '0'] = id.split('-');
      return `${ms}-${Number(seq) + 1}`;
    },
  },
] as const;

const serverLog = (ctx: TestApp, traceId: string) =>
  collect(petCreationOf(ctx.app.engine).subscribe(traceId));

const withoutTime = (text: string) => text.replace(/"time":"[^"]*"/g, '"time":"…"');

/** What each transport sends for a reset from the start and a normal end, with times left out. */
function expectResetFrames(transport: Transport, watch: RawWatch, traceId: string): void {
  const reset = `{"eventId":"0","stream":"petCreation","groupId":"${traceId}","itemId":"history","kind":"reset","data":null,"time":"…"}`;
  const raw = watch.raw.map(withoutTime);
  switch (transport) {
    case 'ws':
      expect(raw[0]).toBe('{"id":1,"result":{"type":"started"}}');
      expect(raw[1]).toBe(
        `{"id":1,"result":{"type":"data","data":{"json":{"id":"0","data":${reset}}},"id":"0"}}`,
      );
      expect(raw.at(-1)).toBe('{"id":1,"result":{"type":"stopped"}}');
      expect(raw).toHaveLength(watch.events.length + 2);
      break;
    case 'trpc-sse':
      expect(parseBlock(raw[0] ?? '').event).toBe('connected');
      expect(parseBlock(raw[1] ?? '')).toEqual({ id: '0', data: `{"json":${reset}}`, comments: [] });
      expect(parseBlock(raw.at(-1) ?? '').event).toBe('return');
      expect(raw).toHaveLength(watch.events.length + 2);
      break;
    case 'sse':
      expect(raw[0]).toBe(`id: 0\nevent: reset\ndata: ${reset}`);
      expect(raw).toHaveLength(watch.events.length);
      break;
  }
}

const resetFromStart = (traceId: string) =>
  expect.objectContaining({ eventId: '0', groupId: traceId, itemId: 'history', kind: 'reset', data: null });

describe.each(backends)('resuming from an id past the end ($name)', ({ env, after }) => {
  test('a finished workflow: on every transport, a reset from 0, then the whole history, then the end', async () => {
    await using ctx = await startTestApp({ env });
    const endpoints = await watchEndpoints(ctx);
    try {
      const created = await ctx.client.pets.create.mutate(max);
      await ctx.app.engine.workflows.onFinished(created.traceId);
      const log = await serverLog(ctx, created.traceId);
      expectCompleteWorkflow(log, max);
      const past = after(log.at(-1)?.eventId ?? '');
      for (const transport of TRANSPORTS) {
        const watch = await endpoints.open(transport, {
          ...created,
          token: created.streamToken,
          lastEventId: past,
        });
        const result = await watch.ended;
        expect(result.end, transport).toEqual({ kind: 'completed' });
        expect(result.events, transport).toEqual([resetFromStart(created.traceId), ...log]);
        expectResetFrames(transport, result, created.traceId);
      }
      // The client resumes as asked and, told of the reset, delivers everything once.
      const viaClient = await collect(
        ctx.client.watchPetCreation(created.traceId, created.streamToken, { lastEventId: past }),
      );
      expect(viaClient).toEqual([resetFromStart(created.traceId), ...log]);
    } finally {
      await endpoints.close();
    }
  });

  test('a running workflow: a reset from 0 and the history at once, then the live events, each once', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({ env, steps: gatedSteps('FeedingReminder', feeding.promise) });
    const endpoints = await watchEndpoints(ctx);
    try {
      const created = await ctx.client.pets.create.mutate(buddy);
      // Created and the six enrichment events; the feeding step waits.
      const sofar = await collect(petCreationOf(ctx.app.engine).subscribe(created.traceId), {
        limit: 7,
      });
      const past = after(sofar.at(-1)?.eventId ?? '');
      const watches = await Promise.all(
        TRANSPORTS.map((transport) =>
          endpoints.open(transport, { ...created, token: created.streamToken, lastEventId: past }),
        ),
      );
      await Promise.all(watches.map((watch) => watch.received(8)));
      for (const watch of watches) expect(watch.events).toEqual([resetFromStart(created.traceId), ...sofar]);

      feeding.resolve();
      const log = await serverLog(ctx, created.traceId);
      expectCompleteWorkflow(log, buddy);
      for (const [index, watch] of watches.entries()) {
        const transport = TRANSPORTS[index] ?? 'sse';
        const result = await watch.ended;
        expect(result.end, transport).toEqual({ kind: 'completed' });
        expect(result.events, transport).toEqual([resetFromStart(created.traceId), ...log]);
        expectResetFrames(transport, result, created.traceId);
      }
    } finally {
      feeding.resolve();
      await endpoints.close();
    }
  });

  test('from the finished event itself: the end at once, with no event', async () => {
    await using ctx = await startTestApp({ env });
    const endpoints = await watchEndpoints(ctx);
    try {
      const created = await ctx.client.pets.create.mutate(max);
      await ctx.app.engine.workflows.onFinished(created.traceId);
      const log = await serverLog(ctx, created.traceId);
      const finished = log.at(-1)?.eventId ?? '';
      const expected: Record<Transport, RawWatch['end']> = {
        ws: { kind: 'completed' },
        'trpc-sse': { kind: 'completed' },
        // EventSource clients stop reconnecting on 204.
        sse: { kind: 'no-content' },
      };
      for (const transport of TRANSPORTS) {
        const watch = await endpoints.open(transport, {
          ...created,
          token: created.streamToken,
          lastEventId: finished,
        });
        const result = await watch.ended;
        expect(result.end, transport).toEqual(expected[transport]);
        expect(result.events, transport).toEqual([]);
      }
    } finally {
      await endpoints.close();
    }
  });
});

describe('resuming from another workflow’s id (redis)', () => {
  test('an id inside this workflow’s log that is not one of its own: a reset, then all of it, nothing dropped', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({
      env: backends[1].env,
      steps: gatedSteps('FeedingReminder', feeding.promise),
    });
    const endpoints = await watchEndpoints(ctx);
    try {
      // Both wait for their feeding step, so their ids interleave once it runs.
      const mine = await ctx.client.pets.create.mutate(max);
      const other = await ctx.client.pets.create.mutate(buddy);
      feeding.resolve();
      await ctx.app.engine.workflows.onFinished(mine.traceId);
      await ctx.app.engine.workflows.onFinished(other.traceId);
      const log = await serverLog(ctx, mine.traceId);
      // Every id of its log, its other stream's included: those are positions of it too.
      const ids = new Set(
        (await ctx.app.engine.backends.streamStorage.readAfter(mine.traceId, null)).events.map(
          (e) => e.eventId,
        ),
      );
      const first = log[0]?.eventId ?? '';
      const last = log.at(-1)?.eventId ?? '';
      const foreign = (await serverLog(ctx, other.traceId))
        .map((e) => e.eventId)
        .find((id) => !ids.has(id) && compareEventIds(id, first) > 0 && compareEventIds(id, last) < 0);
      expect(foreign).toBeDefined();
      for (const transport of TRANSPORTS) {
        const watch = await endpoints.open(transport, {
          traceId: mine.traceId,
          token: mine.streamToken,
          lastEventId: foreign ?? '',
        });
        const result = await watch.ended;
        expect(result.end, transport).toEqual({ kind: 'completed' });
        expect(result.events, transport).toEqual([resetFromStart(mine.traceId), ...log]);
        expectResetFrames(transport, result, mine.traceId);
      }
    } finally {
      feeding.resolve();
      await endpoints.close();
    }
  });
});
