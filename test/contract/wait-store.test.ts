/**
 * The WaitStore contract against memory and Redis: a wait opens once (a
 * step that runs again finds it), ends once, by whichever settlement comes
 * first (on Redis, across connections racing for it), and leaves the
 * deadlines once it ended or its workflow finished.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, describe, expect, test } from 'vitest';

import { MemoryRetention } from '../../server/engine/backends/memory-retention.js';
import { MemoryWaitStore } from '../../server/engine/waits/memory-wait-store.js';
import { RedisWaitStore } from '../../server/engine/waits/redis-wait-store.js';
import type { OpenedWait, WaitStore } from '../../server/engine/waits/wait-store.js';
import { redisFixture } from '../support/redis.js';

const redis = redisFixture();
afterAll(() => redis.cleanup());

const implementations: { name: string; create: () => WaitStore; shared: boolean }[] = [
  {
    name: 'memory',
    create: () => new MemoryWaitStore(new MemoryRetention({ retentionMs: 60_000 })),
    shared: false,
  },
  {
    name: 'redis',
    create: () =>
      new RedisWaitStore({ client: redis.connect().commands, keys: redis.keys, retentionMs: 60_000 }),
    shared: true,
  },
];

/** A wait of a fresh workflow; its deadline `inMs` from a fixed time. */
function wait(name = 'vetClearance', inMs = 1000, traceId = randomUUID().replaceAll('-', '')): OpenedWait {
  return {
    traceId,
    name,
    flow: 'treatment',
    step: 'VetClearance',
    message: {
      id: randomUUID(),
      topic: 'treatment.started',
      traceId,
      data: { pet: { id: '1' } },
      publishedAt: '2030-01-01T00:00:00.000Z',
    },
    awaitedBy: 'vet',
    openedAt: '2030-01-01T00:00:00.000Z',
    deadline: new Date(Date.parse('2030-01-01T00:00:00.000Z') + inMs).toISOString(),
  };
}

const AT = '2030-01-01T00:00:00.500Z';

describe.each(implementations)('WaitStore contract: $name', ({ create, shared }) => {
  test('opens once: a second open returns the first wait as stored, whatever it says', async () => {
    const store = create();
    const first = wait();
    const opened = await store.open(first);
    expect(opened).toEqual({
      opened: true,
      record: { ...first, status: 'waiting', input: null, by: null, settledAt: null },
    });
    const again = await store.open({ ...first, deadline: '2031-01-01T00:00:00.000Z', awaitedBy: 'staff' });
    expect(again).toEqual({ opened: false, record: opened.record });
    expect(await store.get(first.traceId, first.name)).toEqual(opened.record);
    expect(await store.get(first.traceId, 'other')).toBeNull();
  });

  test('ends once: the first settlement wins, the next ones get null; the record keeps the input and who gave it', async () => {
    const store = create();
    const w = wait();
    await store.open(w);
    const received = await store.settle(
      w.traceId,
      w.name,
      { status: 'received', input: { cleared: true, note: 'Fine' }, by: 'vet' },
      AT,
    );
    expect(received).toMatchObject({
      status: 'received',
      input: { cleared: true, note: 'Fine' },
      by: 'vet',
      settledAt: AT,
    });
    expect(await store.settle(w.traceId, w.name, { status: 'timedOut' }, AT)).toBeNull();
    expect(await store.settle(w.traceId, w.name, { status: 'cancelled' }, AT)).toBeNull();
    expect(await store.get(w.traceId, w.name)).toEqual(received);
    expect(await store.settle(w.traceId, 'unknown', { status: 'cancelled' }, AT)).toBeNull();
  });

  test('lists a workflow’s waits in the order they opened; due and next deadline see waiting ones only', async () => {
    const store = create();
    const traceId = randomUUID().replaceAll('-', '');
    const early = { ...wait('first', 100, traceId), openedAt: '2030-01-01T00:00:00.000Z' };
    const late = { ...wait('second', 200, traceId), openedAt: '2030-01-01T00:00:00.001Z' };
    await store.open(late);
    await store.open(early);
    expect((await store.list(traceId)).map((w) => w.name)).toEqual(['first', 'second']);
    const start = Date.parse('2030-01-01T00:00:00.000Z');
    const mine = async (now: number) => (await store.due(now, 1000)).filter((d) => d.traceId === traceId);
    // The deadline itself is due; a millisecond before it is not.
    expect(await mine(start + 99)).toEqual([]);
    expect(await mine(start + 100)).toEqual([{ traceId, name: 'first' }]);
    expect(await mine(start + 200)).toEqual([
      { traceId, name: 'first' },
      { traceId, name: 'second' },
    ]);
    if (!shared) expect(await store.nextDeadline()).toBe(start + 100);
    await store.settle(traceId, 'first', { status: 'timedOut' }, AT);
    expect(await mine(start + 200)).toEqual([{ traceId, name: 'second' }]);
    if (!shared) expect(await store.nextDeadline()).toBe(start + 200);
    await store.finished(traceId);
    if (shared) expect(await mine(start + 200)).toEqual([]);
  });
});

describe.each(implementations)('WaitStore contract, running the step again: $name', ({ create, shared }) => {
  test('an input or a deadline marks the step to run again until it is queued; a cancel does not', async () => {
    const store = create();
    const [received, timedOut, cancelled] = ['received', 'timedOut', 'cancelled'].map((name) => wait(name));
    if (!received || !timedOut || !cancelled) throw new Error('three waits');
    for (const w of [received, timedOut, cancelled]) await store.open(w);
    await store.settle(received.traceId, 'received', { status: 'received', input: 1, by: 'vet' }, AT);
    await store.settle(timedOut.traceId, 'timedOut', { status: 'timedOut' }, AT);
    await store.settle(cancelled.traceId, 'cancelled', { status: 'cancelled' }, AT);
    const mine = async (before: number) =>
      (await store.unresumed(before, 1000))
        .filter((w) => [received, timedOut, cancelled].some((own) => own.traceId === w.traceId))
        .map((w) => w.name)
        .sort();
    // Settled at AT: left over from AT on, not a millisecond before.
    expect(await mine(Date.parse(AT) - 1)).toEqual([]);
    expect(await mine(Date.parse(AT))).toEqual(['received', 'timedOut']);
    await store.resumed(received.traceId, 'received');
    expect(await mine(Date.parse(AT))).toEqual(['timedOut']);
    await store.finished(timedOut.traceId);
    // Redis drops a finished workflow's marks at once; memory, with the rest of it when its retention ends.
    expect(await mine(Date.parse(AT))).toEqual(shared ? [] : ['timedOut']);
  });
});

describe('on Redis, settlements racing from several connections', () => {
  test('of 20 at once, exactly one wins', async () => {
    const redisStore = (): WaitStore =>
      new RedisWaitStore({ client: redis.connect().commands, keys: redis.keys, retentionMs: 60_000 });
    const stores = Array.from({ length: 4 }, redisStore);
    const w = wait();
    const opens = await Promise.all(stores.map((store) => store.open(w)));
    expect(opens.filter((o) => o.opened)).toHaveLength(1);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (stores[i % stores.length] ?? redisStore()).settle(
          w.traceId,
          w.name,
          { status: 'received', input: { i }, by: `vet${i}` },
          AT,
        ),
      ),
    );
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    expect(await stores[0]?.get(w.traceId, w.name)).toEqual(winners[0]);
  });
});
