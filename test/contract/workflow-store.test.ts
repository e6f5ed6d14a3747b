/**
 * The WorkflowStore contract against memory and Redis, then the promise only
 * a shared store makes: steps finishing at once on several instances agree on
 * exactly one "first to finish".
 */
import { randomUUID } from 'node:crypto';

import { afterAll, describe, expect, test, vi } from 'vitest';

import { RedisKeys } from '../../server/engine/backends/redis/keys.js';
import { MemoryWorkflowStore } from '../../server/engine/workflows/memory-store.js';
import { RedisWorkflowStore } from '../../server/engine/workflows/redis-store.js';
import type { WorkflowStore } from '../../server/engine/workflows/store.js';
import { redisFixture } from '../support/redis.js';

const redis = redisFixture();
afterAll(() => redis.cleanup());

const implementations: { name: string; create: (retentionMs: number) => WorkflowStore }[] = [
  { name: 'memory', create: (retentionMs) => new MemoryWorkflowStore(retentionMs) },
  {
    name: 'redis',
    create: (retentionMs) =>
      new RedisWorkflowStore({ client: redis.connect().commands, keys: redis.keys, retentionMs }),
  },
];

const started = (steps: string[]) => ({
  traceId: randomUUID().replaceAll('-', ''),
  flow: 'petCreation',
  subject: 'Max',
  steps,
  startedAt: '2030-01-01T00:00:00.000Z',
});

describe.each(implementations)('WorkflowStore contract: $name', ({ create }) => {
  test('a started workflow has no outcomes and is not finished; an unknown one is null', async () => {
    const store = create(60_000);
    const workflow = started(['Feeding', 'Enrichment']);
    await store.start(workflow);
    expect(await store.get(workflow.traceId)).toEqual({
      ...workflow,
      outcomes: {},
      finishedAt: null,
      cancelledAt: null,
    });
    expect(await store.get('unknown')).toBeNull();
    expect(await store.complete('unknown', 'Feeding', 'succeeded')).toBeNull();
  });

  test('the last step to complete finishes the workflow, once', async () => {
    const store = create(60_000);
    const workflow = started(['Feeding', 'Enrichment']);
    await store.start(workflow);

    const first = await store.complete(workflow.traceId, 'Feeding', 'succeeded');
    expect(first).toEqual({
      state: { ...workflow, outcomes: { Feeding: 'succeeded' }, finishedAt: null, cancelledAt: null },
      allDone: false,
      firstToFinish: false,
    });
    const last = await store.complete(workflow.traceId, 'Enrichment', 'dead');
    expect(last).toMatchObject({ allDone: true, firstToFinish: true });
    expect(last?.state.outcomes).toEqual({ Feeding: 'succeeded', Enrichment: 'dead' });
    expect(Date.parse(last?.state.finishedAt ?? '')).not.toBeNaN();

    // A redelivered step reports again: still done, but not first.
    const again = await store.complete(workflow.traceId, 'Enrichment', 'dead');
    expect(again).toMatchObject({ allDone: true, firstToFinish: false });
    expect(again?.state.finishedAt).toBe(last?.state.finishedAt);
    expect(await store.get(workflow.traceId)).toEqual(last?.state);
  });

  test('a cancel ends a running workflow once; no step finishes it afterwards; a finished one is not cancelled', async () => {
    const store = create(60_000);
    const workflow = started(['Feeding', 'Enrichment']);
    await store.start(workflow);
    await store.complete(workflow.traceId, 'Feeding', 'succeeded');

    const cancelled = await store.cancel(workflow.traceId);
    expect(cancelled?.cancelled).toBe(true);
    expect(cancelled?.state.outcomes).toEqual({ Feeding: 'succeeded' });
    expect(Date.parse(cancelled?.state.cancelledAt ?? '')).not.toBeNaN();
    expect(cancelled?.state.finishedAt).toBe(cancelled?.state.cancelledAt);
    expect(await store.get(workflow.traceId)).toEqual(cancelled?.state);
    expect(await store.cancel(workflow.traceId)).toEqual({ state: cancelled?.state, cancelled: false });
    const late = await store.complete(workflow.traceId, 'Enrichment', 'succeeded');
    expect(late).toMatchObject({ allDone: true, firstToFinish: false });
    expect(late?.state.cancelledAt).toBe(cancelled?.state.cancelledAt);

    const other = started(['Feeding']);
    await store.start(other);
    const finished = await store.complete(other.traceId, 'Feeding', 'succeeded');
    expect(await store.cancel(other.traceId)).toEqual({ state: finished?.state, cancelled: false });
    expect((await store.get(other.traceId))?.cancelledAt).toBeNull();
    expect(await store.cancel('unknown')).toBeNull();
  });

  test('a cancel racing the last step: exactly one of them ends the workflow', async () => {
    const store = create(60_000);
    for (let round = 0; round < 10; round += 1) {
      const workflow = started(['Feeding']);
      await store.start(workflow);
      const [completed, cancelled] = await Promise.all([
        store.complete(workflow.traceId, 'Feeding', 'succeeded'),
        store.cancel(workflow.traceId),
      ]);
      expect([completed?.firstToFinish, cancelled?.cancelled].filter(Boolean)).toEqual([true]);
    }
  });

  test('steps completing concurrently: exactly one caller is first to finish', async () => {
    const store = create(60_000);
    const steps = Array.from({ length: 8 }, (_, i) => `Step${i}`);
    const workflow = started(steps);
    await store.start(workflow);
    const results = await Promise.all(
      steps.map((step) => store.complete(workflow.traceId, step, 'succeeded')),
    );
    expect(results.filter((r) => r?.firstToFinish)).toHaveLength(1);
  });

  test('a finished workflow is forgotten after the retention time', async () => {
    const store = create(50);
    const workflow = started(['Feeding']);
    await store.start(workflow);
    await store.complete(workflow.traceId, 'Feeding', 'succeeded');
    await vi.waitFor(async () => expect(await store.get(workflow.traceId)).toBeNull(), {
      timeout: 2000,
      interval: 20,
    });
  });
});

describe('WorkflowStore on Redis: several instances', () => {
  test('steps finishing at once on different instances: exactly one instance is first to finish', async () => {
    const keys = new RedisKeys(redis.prefix);
    const steps = ['A', 'B', 'C', 'D'];
    // One store (with its own connection) per step: as if each step ran on its own instance.
    const stores = steps.map(
      (step) =>
        [
          step,
          new RedisWorkflowStore({ client: redis.connect().commands, keys, retentionMs: 60_000 }),
        ] as const,
    );
    for (let round = 0; round < 10; round += 1) {
      const workflow = started(steps);
      await stores[0]?.[1].start(workflow);
      const results = await Promise.all(
        stores.map(([step, store]) => store.complete(workflow.traceId, step, 'succeeded')),
      );
      expect(results.filter((r) => r?.firstToFinish)).toHaveLength(1);
      expect(results.every((r) => r !== null)).toBe(true);
    }
  });
});
