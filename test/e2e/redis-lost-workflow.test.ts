/**
 * Redis restarted without persistence (the documented Redis recipe) under
 * running workflows, on a throwaway Redis of this test's own: every watcher,
 * on every transport, is told at once (a `reset` with its last id, then
 * NOT_FOUND) and ends, instead of waiting for ever on a log that is gone;
 * the lost workflows are ended and stop counting as running.
 *
 * Restarting Redis behind the same URL is the scenario itself: the URL is a
 * port the OS gave this test, held by a proxy for the whole test, in front
 * of a Unix socket where each Redis listens in turn.
 */
import { describe, expect, test, vi } from 'vitest';

import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { collect, END_AFTER_FINISHED_MS, within } from '../support/async.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy, luna, max } from '../support/pets.js';
import {
  TRANSPORTS,
  watchEndpoints,
  type OpenWatch,
  type Transport,
  type WatchEndpoints,
} from '../support/raw-watch.js';
import { randomKeyPrefix } from '../support/redis.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.js';
import { petCreationOf } from '../support/stored.js';

const LOST = 'The workflow is no longer stored (evicted, or lost by its storage); its stream has ended';

/** Created, then the six enrichment events: what a workflow has written while its feeding step waits. */
const BEFORE_FEEDING = 7;

type Watched = {
  readonly created: { readonly traceId: string; readonly streamToken: string };
  /** What the workflow wrote before Redis was lost. */
  readonly before: PetCreationEvent[];
  readonly watches: Map<Transport, OpenWatch>;
};

type Scenario = {
  readonly ctx: TestApp;
  readonly endpoints: WatchEndpoints;
  readonly workflows: readonly Watched[];
  /** Lets the waiting feeding steps go on. */
  readonly releaseSteps: () => void;
};

/**
 * Three running workflows (their feeding step waits), each watched on every
 * transport, then Redis killed and started again empty; `check` runs after.
 */
async function withLostWorkflows(
  env: Record<string, string>,
  check: (scenario: Scenario) => Promise<void>,
): Promise<void> {
  const redis: ThrowawayRedis = await startThrowawayRedis();
  const feeding = createDeferred<void>();
  try {
    await using ctx = await startTestApp({
      env: {
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: randomKeyPrefix(),
        REDIS_COMMAND_TIMEOUT_MS: '500',
        ...env,
      },
      steps: gatedSteps('FeedingReminder', feeding.promise),
    });
    const endpoints = await watchEndpoints(ctx);
    try {
      const workflows: Watched[] = [];
      for (const pet of [max, luna, buddy]) {
        const created = await ctx.client.pets.create.mutate(pet);
        const before = await collect(petCreationOf(ctx.app.engine).subscribe(created.traceId), {
          limit: BEFORE_FEEDING,
        });
        const watches = new Map<Transport, OpenWatch>();
        for (const transport of TRANSPORTS) {
          watches.set(
            transport,
            await endpoints.open(transport, { traceId: created.traceId, token: created.streamToken }),
          );
        }
        workflows.push({ created, before, watches });
      }
      await Promise.all(
        workflows.flatMap(({ watches }) => [...watches.values()].map((w) => w.received(BEFORE_FEEDING))),
      );
      expect((await ctx.app.engine.observability.stats()).workflows).toMatchObject({
        started: 3,
        finished: 0,
        running: 3,
      });

      await redis.kill();
      await redis.start();
      await check({ ctx, endpoints, workflows, releaseSteps: () => feeding.resolve() });
    } finally {
      // Before closing: waiting steps would hold the shutdown for its whole grace time.
      feeding.resolve();
      await endpoints.close();
    }
  } finally {
    feeding.resolve();
    await redis.stop();
  }
}

/** Every watcher got the events before the loss, then a reset with the last of them, then NOT_FOUND, and ended. */
async function expectEveryWatcherTold(workflows: readonly Watched[]): Promise<void> {
  for (const { created, before, watches } of workflows) {
    const reset = expect.objectContaining({
      kind: 'reset',
      itemId: 'history',
      groupId: created.traceId,
      eventId: before.at(-1)?.eventId,
      data: null,
    });
    const ended = new Map<Transport, Awaited<OpenWatch['ended']>>();
    for (const [transport, watch] of watches) {
      // The reset says the log is gone: the end follows it at once.
      await watch.received(before.length + 1);
      ended.set(
        transport,
        await within(watch.ended, END_AFTER_FINISHED_MS, `the end after the reset (${transport})`),
      );
    }
    for (const [transport, result] of ended) {
      expect(result.events, transport).toEqual([...before, reset]);
      expect(result.end, transport).toEqual(
        transport === 'sse' ? { kind: 'completed' } : { kind: 'error', code: 'NOT_FOUND', message: LOST },
      );
    }
    // The WebSocket sends what tRPC's own adapter would: started, the events, the reset, the error, stopped.
    const ws = ended.get('ws')?.raw ?? [];
    expect(ws).toHaveLength(1 + BEFORE_FEEDING + 1 + 2);
    expect(ws[0]).toBe('{"id":1,"result":{"type":"started"}}');
    expect(JSON.parse(ws.at(-2) ?? '{}')).toEqual({
      id: 1,
      error: {
        json: {
          message: LOST,
          code: -32004,
          data: { code: 'NOT_FOUND', httpStatus: 404, path: 'petCreation.onUpdate', fieldErrors: null },
        },
      },
    });
    expect(ws.at(-1)).toBe('{"id":1,"result":{"type":"stopped"}}');
    // Plain SSE ends the response after the reset; a reconnect is then told 404.
    expect(ended.get('sse')?.raw.at(-1)).toBe(`: ended: ${LOST}`);
  }
}

describe('Redis restarted without its data under running workflows', () => {
  test('the live reader notices the logs are gone: every watcher gets a reset, then NOT_FOUND, and ends', async () => {
    // No workflow check during the test: the watchers learn it from the live reader alone.
    await withLostWorkflows({ WORKFLOW_CHECK_INTERVAL_MS: '600000' }, async ({ ctx, workflows }) => {
      await expectEveryWatcherTold(workflows);
      expect(ctx.logs.filter((l) => l.msg === 'Watched live streams are gone from Redis')).not.toEqual([]);
    });
  });

  test('the lost workflows are ended: not running any more, counted as lost, unknown to new watchers', async () => {
    await withLostWorkflows(
      { WORKFLOW_CHECK_INTERVAL_MS: '50' },
      async ({ ctx, endpoints, workflows, releaseSteps }) => {
        await expectEveryWatcherTold(workflows);
        await vi.waitFor(
          async () =>
            expect((await ctx.app.engine.observability.stats()).workflows).toMatchObject({
              started: 3,
              finished: 3,
              running: 0,
            }),
          { timeout: 5000, interval: 20 },
        );
        expect(ctx.app.engine.workflows.watchedCount).toBe(0);
        const metrics = await ctx.app.engine.observability.metrics.text();
        expect(metrics).toContain('pet_stream_workflows_finished_total{flow="petCreation",outcome="lost"} 3');
        expect(
          ctx.logs
            .filter((l) => l.msg === '❌ Workflow lost: storage no longer has its state')
            .map((l) => l.traceId),
        ).toEqual(expect.arrayContaining(workflows.map((w) => w.created.traceId)));

        // Watching again, resuming or not, on any transport: the workflow is unknown.
        const [{ created, before }] = workflows as [Watched];
        for (const transport of TRANSPORTS) {
          for (const lastEventId of [undefined, before.at(-1)?.eventId]) {
            const again = await endpoints.open(transport, {
              traceId: created.traceId,
              token: created.streamToken,
              ...(lastEventId === undefined ? {} : { lastEventId }),
            });
            const result = await again.ended;
            expect(result.end, transport).toMatchObject({ kind: 'error', code: 'NOT_FOUND' });
          }
        }

        // The steps still running write after the loss: no watcher of the old log hears of it.
        releaseSteps();
        await vi.waitFor(() =>
          expect(ctx.logs.filter((l) => l.msg === '✅ Next feeding reminder set')).toHaveLength(3),
        );
        for (const { before, watches } of workflows) {
          for (const watch of watches.values()) expect(watch.events).toHaveLength(before.length + 1);
        }
      },
    );
  });
});
