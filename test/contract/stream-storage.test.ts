/**
 * The WorkflowLogStorage contract against memory and Redis: one ordered log
 * per workflow across its streams, current values per stream, idempotent
 * appends, bounded history with resets, expiry, live delivery, and a
 * subscription that starts while another writer appends. Then what only
 * Redis promises: several instances, one set of logs, one blocked connection
 * per process however many subscriptions it serves.
 */
import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import { z } from 'zod';

import { createDeferred } from '../../shared/deferred.js';
import { compareEventIds } from '../../shared/stream-event.js';
import { defineStream } from '../../server/engine/streams/define-stream.js';
import { RedisChannels } from '../../server/engine/backends/redis/channels.js';
import { StreamReader } from '../../server/engine/backends/redis/stream-reader.js';
import { MemoryRetention } from '../../server/engine/backends/memory-retention.js';
import { MemoryWorkflowLogStorage } from '../../server/engine/streams/memory-storage.js';
import { RedisWorkflowLogStorage } from '../../server/engine/streams/redis-storage.js';
import type { StoredEvent, WorkflowLogStorage } from '../../server/engine/streams/storage.js';
import { WorkflowLog } from '../../server/engine/streams/workflow-log.js';
import { redisFixture, silentLogger, TEST_REDIS_URL } from '../support/redis.js';

const redis = redisFixture();
afterAll(() => redis.cleanup());

type StorageOptions = { readonly historyLimit: number; readonly retentionMs: number };
const defaults: StorageOptions = { historyLimit: 1000, retentionMs: 60_000 };

const open: WorkflowLogStorage[] = [];
const readers: StreamReader[] = [];
const retentions = new WeakMap<WorkflowLogStorage, MemoryRetention>();
afterEach(async () => {
  const closing = open.splice(0);
  await Promise.all(closing.map((storage) => storage.close()));
  for (const reader of readers.splice(0)) reader.close();
  for (const storage of closing) retentions.get(storage)?.close();
  await redis.disconnect();
});

function redisStorage(options: StorageOptions, name?: string): RedisWorkflowLogStorage {
  const connections = redis.connect(name);
  // The process's one blocking reader, as the backends make it.
  const reader = new StreamReader({
    reader: connections.streamReader,
    commands: connections.commands,
    wakeKey: redis.keys.readerWake(randomUUID()),
    log: silentLogger(),
  });
  readers.push(reader);
  const storage = new RedisWorkflowLogStorage({
    client: connections.commands,
    reader,
    channels: new RedisChannels({
      publisher: connections.commands,
      subscriber: connections.subscriber,
      log: silentLogger(),
    }),
    keys: redis.keys,
    ...options,
  });
  open.push(storage);
  return storage;
}

const implementations: {
  name: string;
  /** A reader and a writer: one storage in memory, two instances on Redis. */
  create: (options?: Partial<StorageOptions>) => [WorkflowLogStorage, WorkflowLogStorage];
  /** The group's log goes while it is listened to, as the backend can lose it. */
  lose: (storage: WorkflowLogStorage, groupId: string) => Promise<void>;
  /** The id right after `id`, which the group has not given out. */
  next: (id: string) => string;
}[] = [
  {
    name: 'memory',
    create: (options) => {
      const merged = { ...defaults, ...options };
      const retention = new MemoryRetention({ retentionMs: merged.retentionMs });
      const storage = new MemoryWorkflowLogStorage({ ...merged, retention });
      retentions.set(storage, retention);
      open.push(storage);
      return [storage, storage];
    },
    // Evicted, as the memory bounds do it.
    lose: async (storage, groupId) => {
      const retention = retentions.get(storage);
      retention?.finish(groupId);
      retention?.evictOldest();
    },
    next: (id) => String(Number(id) + 1),
  },
  {
    name: 'redis',
    create: (options) => [
      redisStorage({ ...defaults, ...options }),
      redisStorage({ ...defaults, ...options }),
    ],
    // Gone with a Redis restart, then written to again by a step that was still running.
    lose: async (storage, groupId) => {
      const admin = new Redis(TEST_REDIS_URL);
      try {
        await admin.del(...Object.values(redis.keys.workflowLog(groupId)));
      } finally {
        admin.disconnect();
      }
      await append(storage, groupId, -1);
    },
    next: (id) => {
      const [ms = '0', seq = '0'] = id.split('-');
      return `${ms}-${Number(seq) + 1}`;
    },
  },
];

const STREAM = 'contract';
const newGroup = () => randomUUID();
const append = (
  storage: WorkflowLogStorage,
  groupId: string,
  n: number,
  extra: { itemId?: string; idempotencyKey?: string; stream?: string } = {},
) =>
  storage.append({
    stream: extra.stream ?? STREAM,
    groupId,
    itemId: extra.itemId ?? 'item',
    kind: 'set',
    data: { n },
    idempotencyKey: extra.idempotencyKey,
  });
/** The workflow's last event, on `stream`. */
const appendEnd = (
  storage: WorkflowLogStorage,
  groupId: string,
  n: number,
  { kind = 'finished', stream = STREAM }: { kind?: 'finished' | 'cancelled'; stream?: string } = {},
) => storage.append({ stream, groupId, itemId: 'workflow', kind, data: { n } });
const numbers = (events: readonly StoredEvent[]) => events.map((e) => (e.data as { n: number }).n);

function expectIncreasingIds(events: readonly StoredEvent[]): void {
  for (let i = 1; i < events.length; i += 1) {
    expect(compareEventIds(events[i]?.eventId ?? '0', events[i - 1]?.eventId ?? '0')).toBe(1);
  }
}

describe.each(implementations)('WorkflowLogStorage contract: $name', ({ create, lose, next }) => {
  test('append returns the stored event; readAfter gives the log in order, or what follows an id', async () => {
    const [storage] = create();
    const group = newGroup();
    const first = await append(storage, group, 1);
    expect(first).toEqual({
      eventId: expect.any(String),
      stream: STREAM,
      groupId: group,
      itemId: 'item',
      kind: 'set',
      data: { n: 1 },
      time: expect.any(String),
    });
    for (let n = 2; n <= 5; n += 1) await append(storage, group, n);
    const all = await storage.readAfter(group, null);
    expect(all.reset).toBe(false);
    expect(numbers(all.events)).toEqual([1, 2, 3, 4, 5]);
    expect(all.events[0]).toEqual(first);
    expectIncreasingIds(all.events);
    const rest = await storage.readAfter(group, all.events[2]?.eventId ?? null);
    expect(rest).toEqual({ events: all.events.slice(3), reset: false });
    expect(await storage.readAfter(group, all.events[4]?.eventId ?? null)).toEqual({
      events: [],
      reset: false,
    });
  });

  test('current values follow set and delete; getGroup lists items in the order they were first set', async () => {
    const [storage] = create();
    const group = newGroup();
    await append(storage, group, 1, { itemId: 'a' });
    await append(storage, group, 2, { itemId: 'b' });
    const a3 = await append(storage, group, 3, { itemId: 'a' });
    await append(storage, group, 4, { itemId: 'c' });
    expect(await storage.getItem(group, STREAM, 'a')).toEqual(a3);
    expect(
      (await storage.getGroup(group, STREAM)).map((e) => [e.itemId, (e.data as { n: number }).n]),
    ).toEqual([
      ['a', 3],
      ['b', 2],
      ['c', 4],
    ]);

    const deleted = await storage.append({
      stream: STREAM,
      groupId: group,
      itemId: 'a',
      kind: 'delete',
      data: null,
    });
    expect(deleted).toMatchObject({ kind: 'delete', itemId: 'a', data: null });
    expect(await storage.getItem(group, STREAM, 'a')).toBeNull();
    await append(storage, group, 5, { itemId: 'a' });
    expect((await storage.getGroup(group, STREAM)).map((e) => e.itemId)).toEqual(['b', 'c', 'a']);
    expect(await storage.getItem(newGroup(), STREAM, 'a')).toBeNull();
    expect(await storage.getGroup(newGroup(), STREAM)).toEqual([]);
  });

  test('the streams of a workflow share its one log: ids increase across streams, items are kept per stream', async () => {
    const [storage, writer] = create();
    const group = newGroup();
    const received: StoredEvent[] = [];
    const unlisten = storage.listen(group, (event) => received.push(event));
    await storage.readAfter(group, null);
    const written = [
      await append(writer, group, 1, { stream: 'a', itemId: 'x' }),
      await append(writer, group, 2, { stream: 'b', itemId: 'x' }),
      await append(writer, group, 3, { stream: 'a', itemId: 'y' }),
      await append(writer, group, 4, { stream: 'b', itemId: 'x' }),
    ];
    expect(written.map((e) => e.stream)).toEqual(['a', 'b', 'a', 'b']);
    const log = await storage.readAfter(group, null);
    expect(log).toEqual({ events: written, reset: false });
    expectIncreasingIds(log.events);
    expect(await storage.readAfter(group, written[1]?.eventId ?? null)).toEqual({
      events: written.slice(2),
      reset: false,
    });
    // Listeners get every stream of the workflow, in log order.
    await vi.waitFor(() => expect(received).toEqual(written), { timeout: 3000, interval: 5 });

    // The same item id in two streams is two items.
    expect(await storage.getItem(group, 'a', 'x')).toEqual(written[0]);
    expect(await storage.getItem(group, 'b', 'x')).toEqual(written[3]);
    expect(await storage.getItem(group, 'b', 'y')).toBeNull();
    expect((await storage.getGroup(group, 'a')).map((e) => e.itemId)).toEqual(['x', 'y']);
    expect(await storage.getGroup(group, 'b')).toEqual([written[3]]);
    expect(await storage.getGroup(group, STREAM)).toEqual([]);
    await writer.append({ stream: 'b', groupId: group, itemId: 'x', kind: 'delete', data: null });
    expect(await storage.getItem(group, 'b', 'x')).toBeNull();
    expect(await storage.getItem(group, 'a', 'x')).toEqual(written[0]);
    unlisten();
  });

  test('the finished event of any stream ends the whole log', async () => {
    const [storage] = create();
    const group = newGroup();
    await append(storage, group, 1, { stream: 'a' });
    const finished = await appendEnd(storage, group, 2, { stream: 'b' });
    expect(finished.stream).toBe('b');
    expect(await storage.readAfter(group, finished.eventId)).toEqual({
      events: [],
      reset: false,
      ended: true,
    });
  });

  test('a cancelled event ends the log as a finished one does; no other last event is stored after it', async () => {
    const [storage] = create();
    const group = newGroup();
    await append(storage, group, 1);
    const end = {
      stream: STREAM,
      groupId: group,
      itemId: 'workflow',
      data: { n: 2 },
      idempotencyKey: 'finished',
    };
    const cancelled = await storage.append({ ...end, kind: 'cancelled' });
    const finished = await storage.append({ ...end, kind: 'finished', data: { n: 3 } });
    expect(finished).toEqual(cancelled);
    expect(await storage.readAfter(group, cancelled.eventId)).toEqual({
      events: [],
      reset: false,
      ended: true,
    });
    expect((await storage.readAfter(group, null)).events.map((event) => event.kind)).toEqual([
      'set',
      'cancelled',
    ]);
    expect((await storage.readLatest(group)).end).toEqual(cancelled);
  });

  test('appendIfCurrent stores only while the item has the value it names; a used key returns its event whatever the value', async () => {
    const [storage, other] = create();
    const group = newGroup();
    const write = (n: number, key?: string) => ({
      stream: STREAM,
      groupId: group,
      itemId: 'counter',
      kind: 'set' as const,
      data: { n },
      idempotencyKey: key,
    });
    const first = await storage.appendIfCurrent(write(1), null);
    expect(first?.data).toEqual({ n: 1 });
    // Not absent any more, and not the value named: nothing stored.
    expect(await other.appendIfCurrent(write(2), null)).toBeNull();
    expect(await other.appendIfCurrent(write(2), next(first?.eventId ?? '0'))).toBeNull();
    const second = await other.appendIfCurrent(write(2, 'k'), first?.eventId ?? null);
    expect(second?.data).toEqual({ n: 2 });
    // The same key again, naming a value the item no longer has: the first write's event, nothing new.
    expect(await storage.appendIfCurrent(write(9, 'k'), first?.eventId ?? null)).toEqual(second);
    expect(numbers((await storage.readAfter(group, null)).events)).toEqual([1, 2]);
    expect((await storage.getItem(group, STREAM, 'counter'))?.eventId).toBe(second?.eventId);
  });

  test('readLatest: every current value in log order, the position they reflect, the last event once ended', async () => {
    const [storage] = create();
    const group = newGroup();
    expect(await storage.readLatest(group)).toEqual({ events: [], position: null, end: null });
    const a1 = await append(storage, group, 1, { itemId: 'a' });
    const b = await append(storage, group, 2, { itemId: 'b', stream: 'other' });
    const c = await append(storage, group, 3, { itemId: 'c' });
    const a2 = await append(storage, group, 4, { itemId: 'a' });
    const gone = await storage.append({
      stream: STREAM,
      groupId: group,
      itemId: 'c',
      kind: 'delete',
      data: null,
    });
    expect(await storage.readLatest(group)).toEqual({ events: [b, a2], position: gone.eventId, end: null });
    expect(a1.eventId).not.toBe(a2.eventId);
    expect(c.itemId).toBe('c');
    const end = await appendEnd(storage, group, 5);
    expect(await storage.readLatest(group)).toEqual({ events: [b, a2], position: end.eventId, end });
  });

  test('send reaches the listeners of the group, on every instance, and stores nothing', async () => {
    const [reader, writer] = create();
    const group = newGroup();
    const stored = await append(writer, group, 1);
    const heard: StoredEvent[] = [];
    const came = createDeferred<void>();
    const unlisten = reader.listen(group, (event) => {
      heard.push(event);
      if (event.kind === 'ephemeral') came.resolve();
    });
    const sent = {
      stream: STREAM,
      groupId: group,
      itemId: 'draft',
      kind: 'ephemeral',
      data: { n: 2 },
      time: new Date().toISOString(),
    } as const;
    // A subscription made on another connection may take a moment: send until one is heard.
    await vi.waitFor(
      async () => {
        await writer.send(sent);
        expect(heard.length).toBeGreaterThan(0);
      },
      { timeout: 5000, interval: 20 },
    );
    await came.promise;
    unlisten();
    expect(heard[0]).toEqual({ ...sent, eventId: '' });
    expect((await reader.readAfter(group, null)).events).toEqual([stored]);
    expect(await reader.getItem(group, STREAM, 'draft')).toBeNull();
  });

  test("an idempotency key is the workflow's, whatever the stream: a repeat on another stream stores nothing", async () => {
    const [storage, other] = create();
    const group = newGroup();
    const first = await append(storage, group, 1, { stream: 'a', idempotencyKey: 'step:msg:1' });
    expect(await append(other, group, 2, { stream: 'b', idempotencyKey: 'step:msg:1' })).toEqual(first);
    expect(numbers((await storage.readAfter(group, null)).events)).toEqual([1]);
    expect(await storage.getGroup(group, 'b')).toEqual([]);
  });

  test('idempotent appends: a repeated key stores nothing and returns the first event; keys are per group', async () => {
    const [storage, other] = create();
    const group = newGroup();
    const first = await append(storage, group, 1, { idempotencyKey: 'step:msg:1' });
    // Another instance retrying the same write, with different data.
    const again = await append(other, group, 99, { idempotencyKey: 'step:msg:1' });
    expect(again).toEqual(first);
    const concurrent = await Promise.all([
      append(storage, group, 2, { idempotencyKey: 'step:msg:2' }),
      append(other, group, 2, { idempotencyKey: 'step:msg:2' }),
    ]);
    expect(concurrent[0]).toEqual(concurrent[1]);
    expect(numbers((await storage.readAfter(group, null)).events)).toEqual([1, 2]);
    expect((await storage.getItem(group, STREAM, 'item'))?.data).toEqual({ n: 2 });

    const elsewhere = newGroup();
    await append(storage, elsewhere, 7, { idempotencyKey: 'step:msg:1' });
    expect(numbers((await storage.readAfter(elsewhere, null)).events)).toEqual([7]);
  });

  test('history is bounded: the newest events are kept, and a reader that missed trimmed ones gets a reset', async () => {
    const historyLimit = 5;
    const [storage] = create({ historyLimit });
    const group = newGroup();
    const appended: StoredEvent[] = [];
    // Redis trims whole internal nodes (~100 entries): write enough to force it.
    for (let n = 0; n < 250; n += 1) appended.push(await append(storage, group, n));

    const kept = await storage.readAfter(group, null);
    expect(kept.reset).toBe(true);
    expect(kept.events.length).toBeGreaterThanOrEqual(historyLimit);
    expect(kept.events.length).toBeLessThan(250);
    const firstKept = appended.length - kept.events.length;
    expect(kept.events).toEqual(appended.slice(firstKept));

    // Missed trimmed events: a reset, then everything still kept.
    expect(await storage.readAfter(group, appended[0]?.eventId ?? null)).toEqual({
      events: kept.events,
      reset: true,
    });
    // Saw the last trimmed event: nothing is missing.
    expect(await storage.readAfter(group, appended[firstKept - 1]?.eventId ?? null)).toEqual({
      events: kept.events,
      reset: false,
    });
    expect(await storage.readAfter(group, appended.at(-2)?.eventId ?? null)).toEqual({
      events: appended.slice(-1),
      reset: false,
    });
  });

  test('a group that does not exist reads empty, with a reset when an id is given', async () => {
    const [storage] = create();
    expect(await storage.readAfter(newGroup(), null)).toEqual({ events: [], reset: false });
    expect(await storage.readAfter(newGroup(), '1700000000000-3')).toEqual({
      events: [],
      reset: true,
    });
  });

  test('a resume point past the newest event is unknown: a reset and the whole history, at the boundary too', async () => {
    const [storage] = create();
    const group = newGroup();
    const appended: StoredEvent[] = [];
    for (let n = 1; n <= 5; n += 1) appended.push(await append(storage, group, n));
    const newest = appended.at(-1)?.eventId ?? '';
    // The newest event itself is a known position: nothing follows yet.
    expect(await storage.readAfter(group, newest)).toEqual({ events: [], reset: false });
    for (const after of [next(newest), '99999999999999999999', '18446744073709551615-18446744073709551615']) {
      expect(await storage.readAfter(group, after), after).toEqual({
        events: appended,
        reset: true,
        unknownAfter: true,
      });
    }
  });

  test('resuming at or past the finished event of a finished group ends it: nothing follows', async () => {
    const [storage] = create();
    const group = newGroup();
    const first = await append(storage, group, 1);
    const finished = await appendEnd(storage, group, 2);
    expect(await storage.readAfter(group, first.eventId)).toEqual({
      events: [finished],
      reset: false,
    });
    expect(await storage.readAfter(group, finished.eventId)).toEqual({
      events: [],
      reset: false,
      ended: true,
    });
    // A write after the end is stored, and still nothing follows the end.
    const late = await append(storage, group, 3);
    expect(await storage.readAfter(group, late.eventId)).toEqual({
      events: [],
      reset: false,
      ended: true,
    });
    expect((await storage.readAfter(group, next(late.eventId))).unknownAfter).toBe(true);
  });

  test('a group lost while listened to: its listeners get one reset event, then nothing', async () => {
    const [storage, writer] = create();
    const group = newGroup();
    const before = await append(writer, group, 1);
    const received: StoredEvent[] = [];
    const unlisten = storage.listen(group, (event) => received.push(event));
    // As a subscription does, so that the live start is fixed before the next write.
    await storage.readAfter(group, null);
    const live = await append(writer, group, 2);
    await vi.waitFor(() => expect(received).toEqual([live]), { timeout: 3000, interval: 5 });
    await lose(writer, group);
    await vi.waitFor(() => expect(received).toHaveLength(2), { timeout: 3000, interval: 5 });
    // The whole log is gone, not one stream of it: the reset names no stream.
    expect(received[1]).toMatchObject({
      stream: '',
      groupId: group,
      itemId: 'history',
      kind: 'reset',
      data: null,
    });
    await append(writer, group, 3);
    // The reader dropped the lost group: a write after it reaches a new listener only.
    const later: StoredEvent[] = [];
    const unlistenLater = storage.listen(group, (event) => later.push(event));
    await storage.readAfter(group, null);
    await append(writer, group, 4);
    await vi.waitFor(() => expect(numbers(later)).toEqual([4]), { timeout: 3000, interval: 5 });
    expect(received).toHaveLength(2);
    expect(before.eventId).not.toBe(live.eventId);
    unlisten();
    unlistenLater();
  });

  test('a finished group expires after the retention time; an unfinished one stays', async () => {
    const [storage] = create({ retentionMs: 100 });
    const finished = newGroup();
    const running = newGroup();
    await append(storage, running, 1, { idempotencyKey: 'k' });
    await append(storage, finished, 1, { idempotencyKey: 'k' });
    const last = await storage.append({
      stream: STREAM,
      groupId: finished,
      itemId: 'workflow',
      kind: 'finished',
      data: { n: 2 },
    });
    await vi.waitFor(
      async () => expect(await storage.readAfter(finished, null)).toEqual({ events: [], reset: false }),
      { timeout: 3000, interval: 20 },
    );
    expect(await storage.readAfter(finished, last.eventId)).toEqual({ events: [], reset: true });
    expect(await storage.getItem(finished, STREAM, 'item')).toBeNull();
    expect(await storage.getGroup(finished, STREAM)).toEqual([]);
    // The idempotency record went with it.
    expect((await append(storage, finished, 3, { idempotencyKey: 'k' })).data).toEqual({ n: 3 });
    expect(numbers((await storage.readAfter(running, null)).events)).toEqual([1]);
  });

  test('listen delivers every event appended after it, in order, once; nothing from before or after unlisten', async () => {
    // "After" is well defined within one process; across instances the engine
    // reads history after listening (tested below), which closes any gap.
    const [storage] = create();
    const writer = storage;
    const group = newGroup();
    await append(writer, group, 0);
    const received: StoredEvent[] = [];
    const unlisten = storage.listen(group, (event) => received.push(event));
    const elsewhere: StoredEvent[] = [];
    const unlistenElsewhere = storage.listen(newGroup(), (event) => elsewhere.push(event));
    expect(storage.listenerCount()).toBe(2);
    for (let n = 1; n <= 20; n += 1) await append(writer, group, n);
    await vi.waitFor(() => expect(received).toHaveLength(20), { timeout: 3000, interval: 5 });
    expect(numbers(received)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expectIncreasingIds(received);

    // A repeated idempotent write is not a new event.
    await append(writer, group, 21, { idempotencyKey: 'once' });
    await append(writer, group, 21, { idempotencyKey: 'once' });
    await append(writer, group, 22);
    await vi.waitFor(() => expect(numbers(received).slice(20)).toEqual([21, 22]), {
      timeout: 3000,
      interval: 5,
    });

    unlisten();
    unlistenElsewhere();
    expect(storage.listenerCount()).toBe(0);
    await append(writer, group, 23);
    const late: StoredEvent[] = [];
    const unlistenLate = storage.listen(group, (event) => late.push(event));
    await append(writer, group, 24);
    await vi.waitFor(() => expect(numbers(late)).toEqual([24]), { timeout: 3000, interval: 5 });
    unlistenLate();
    expect(received).toHaveLength(22);
    expect(elsewhere).toEqual([]);
  });

  test('a second listener on the same group gets only what follows its own listen', async () => {
    const [storage] = create();
    const writer = storage;
    const group = newGroup();
    const first: StoredEvent[] = [];
    const second: StoredEvent[] = [];
    const unlistenFirst = storage.listen(group, (event) => first.push(event));
    await append(writer, group, 1);
    const unlistenSecond = storage.listen(group, (event) => second.push(event));
    await append(writer, group, 2);
    await vi.waitFor(() => expect(numbers(second)).toEqual([2]), { timeout: 3000, interval: 5 });
    expect(numbers(first)).toEqual([1, 2]);
    unlistenFirst();
    unlistenSecond();
  });

  test('subscribing while another writer appends: history then live, every event once, in order', async () => {
    const [storage, writer] = create();
    const definition = defineStream({ name: STREAM, schema: z.object({ n: z.number() }) });
    const reading = new WorkflowLog(storage, { subscriberBufferLimit: 10_000 }).stream(definition);
    const writing = new WorkflowLog(writer, { subscriberBufferLimit: 10_000 }).stream(definition);
    const group = newGroup();
    const total = 300;
    const halfway = createDeferred<void>();
    const writes = (async () => {
      for (let n = 0; n < total; n += 1) {
        await writing.set(group, `item${n % 7}`, { n });
        if (n === 50) halfway.resolve();
      }
      await writing.finish(group, { n: total });
    })();
    await halfway.promise;
    const seen: StoredEvent[] = [];
    for await (const event of reading.subscribe(group)) seen.push(event);
    await writes;
    expect(numbers(seen)).toEqual(Array.from({ length: total + 1 }, (_, i) => i));
    expect(seen.at(-1)?.kind).toBe('finished');
    expectIncreasingIds(seen);

    // Resuming after any event gives exactly the rest.
    const resumeAfter = seen[123]?.eventId;
    const rest: StoredEvent[] = [];
    for await (const event of reading.subscribe(group, { after: resumeAfter })) rest.push(event);
    expect(rest).toEqual(seen.slice(124));
    await vi.waitFor(() => expect(storage.listenerCount()).toBe(0));
  });
});

describe('WorkflowLogStorage on Redis: several instances', () => {
  test('live events cross instances through one blocked connection per process, however many subscriptions', async () => {
    const name = `readers-${randomUUID().slice(0, 8)}`;
    const watching = redisStorage(defaults, name);
    const writing = redisStorage(defaults);
    const groups = Array.from({ length: 60 }, newGroup);
    const received = new Map<string, number[]>(groups.map((g) => [g, []]));
    const unlisteners = groups.map((group) =>
      watching.listen(group, (event) => received.get(group)?.push((event.data as { n: number }).n)),
    );
    // As a subscription does: read history after listening; live delivery then starts no later than this read.
    await Promise.all(groups.map((group) => watching.readAfter(group, null)));
    await Promise.all(
      groups.map(async (group) => {
        for (let n = 0; n < 3; n += 1) await append(writing, group, n);
      }),
    );
    await vi.waitFor(() => expect([...received.values()].every((ns) => ns.length === 3)).toBe(true), {
      timeout: 5000,
      interval: 10,
    });
    expect([...received.values()].every((ns) => ns.join() === '0,1,2')).toBe(true);

    const admin = new Redis(TEST_REDIS_URL);
    try {
      const clients = String(await admin.client('LIST'))
        .split('\n')
        .filter((line) => line.includes(` name=${name}:`));
      expect(clients.filter((line) => line.includes(`name=${name}:stream-reader`))).toHaveLength(1);
      // commands, stream reader, bus, subscriber: fixed, whatever the number of subscriptions.
      expect(clients).toHaveLength(4);
    } finally {
      admin.disconnect();
    }
    for (const unlisten of unlisteners) unlisten();
  });

  test("another group's id inside this group's log is unknown: a reset and the whole history, nothing dropped", async () => {
    const storage = redisStorage(defaults);
    const group = newGroup();
    const other = newGroup();
    const first = await append(storage, group, 1);
    // Redis ids are <ms>-<seq>: write elsewhere until the clock has moved on, so that an id fits in between.
    const msOf = (id: string) => id.split('-')[0];
    const elsewhereAfter = async (id: string) => {
      let written = await append(storage, other, 0);
      while (msOf(written.eventId) === msOf(id)) written = await append(storage, other, 0);
      return written;
    };
    const elsewhere = await elsewhereAfter(first.eventId);
    await elsewhereAfter(elsewhere.eventId);
    const rest = [await append(storage, group, 2), await append(storage, group, 3)];
    const [ms, seq = '0'] = first.eventId.split('-');
    const between = `${ms}-${Number(seq) + 1}`;
    for (const foreign of [between, elsewhere.eventId]) {
      expect(compareEventIds(foreign, first.eventId)).toBe(1);
      expect(compareEventIds(foreign, rest[0]?.eventId ?? '')).toBe(-1);
      expect(await storage.readAfter(group, foreign), foreign).toEqual({
        events: [first, ...rest],
        reset: true,
        unknownAfter: true,
      });
    }
    // Older than anything the group has: nothing is missing, so no reset.
    expect(await storage.readAfter(group, '1-0')).toEqual({ events: [first, ...rest], reset: false });
  });

  test('event ids are valid on every instance: resume on one with the id from another', async () => {
    const [a, b] = [redisStorage(defaults), redisStorage(defaults)];
    const definition = defineStream({ name: STREAM, schema: z.object({ n: z.number() }) });
    const [onA, onB] = [a, b].map((storage) =>
      new WorkflowLog(storage, { subscriberBufferLimit: 100 }).stream(definition),
    );
    const group = newGroup();
    for (let n = 0; n < 5; n += 1) await onA?.set(group, 'item', { n });
    await onA?.finish(group, { n: 5 });
    const fromA: StoredEvent[] = [];
    for await (const event of onA?.subscribe(group) ?? []) fromA.push(event);
    expect(fromA[0]?.eventId).toMatch(/^\d+-\d+$/);
    const fromB: StoredEvent[] = [];
    for await (const event of onB?.subscribe(group, { after: fromA[2]?.eventId }) ?? []) fromB.push(event);
    expect(fromB).toEqual(fromA.slice(3));
  });
});
