/**
 * Stream storage details the contract suite leaves open: option checks,
 * resuming after `0`, resume points Redis cannot read past, what counts as
 * an item, writes after the end, several streams in one group, the bytes the
 * memory backend accounts for, and closing.
 */
import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';

import { StreamReader } from '../../server/engine/backends/redis/stream-reader.js';
import { MemoryRetention, jsonSize } from '../../server/engine/backends/memory-retention.js';
import { MemoryWorkflowLogStorage } from '../../server/engine/streams/memory-storage.js';
import { RedisWorkflowLogStorage } from '../../server/engine/streams/redis-storage.js';
import { isReplay, type StoredEvent, type WorkflowLogStorage } from '../../server/engine/streams/storage.js';
import { redisFixture, silentLogger, TEST_REDIS_URL } from '../support/redis.js';

const redis = redisFixture();
afterAll(() => redis.cleanup());

const open: (() => unknown)[] = [];
afterEach(async () => {
  // Newest first: a storage closes before the reader it listens through.
  for (const close of open.splice(0).reverse()) await close();
  await redis.disconnect();
});

function memoryStorage(options: { historyLimit?: number; retention?: MemoryRetention } = {}) {
  const storage = new MemoryWorkflowLogStorage({
    historyLimit: options.historyLimit ?? 100,
    retentionMs: 60_000,
    ...options,
  });
  open.push(() => storage.close());
  return storage;
}

function redisStorage(options: { historyLimit?: number; retentionMs?: number } = {}) {
  const connections = redis.connect();
  const reader = new StreamReader({
    reader: connections.streamReader,
    commands: connections.commands,
    wakeKey: redis.keys.readerWake(randomUUID()),
    log: silentLogger(),
  });
  open.push(() => reader.close());
  const storage = new RedisWorkflowLogStorage({
    client: connections.commands,
    reader,
    keys: redis.keys,
    historyLimit: options.historyLimit ?? 100,
    retentionMs: options.retentionMs ?? 60_000,
  });
  open.push(() => storage.close());
  return storage;
}

const STREAM = 'details';
/** Sets item `a`. */
const set = (storage: WorkflowLogStorage, groupId: string, message: string, idempotencyKey?: string) =>
  storage.append({ stream: STREAM, groupId, itemId: 'a', kind: 'set', data: { message }, idempotencyKey });
const finish = (storage: WorkflowLogStorage, groupId: string, stream = STREAM) =>
  storage.append({ stream, groupId, itemId: 'workflow', kind: 'finished', data: { message: 'done' } });
const messages = (events: readonly StoredEvent[]) =>
  events.map((e) => (e.data as { message: string }).message);

describe.each([
  { name: 'memory', create: () => memoryStorage() },
  { name: 'redis', create: () => redisStorage() },
])('stream storage details: $name', ({ create }) => {
  test('resuming after `0`, the id a reset from the start carries, is reading from the start: no reset', async () => {
    const storage = create();
    expect(await storage.readAfter(randomUUID(), '0')).toEqual({ events: [], reset: false });
    const group = randomUUID();
    await set(storage, group, 'one');
    await set(storage, group, 'two');
    const read = await storage.readAfter(group, '0');
    expect(messages(read.events)).toEqual(['one', 'two']);
    expect(read.reset).toBe(false);
    expect(read.unknownAfter).toBeUndefined();
  });

  test('the finished event is no item: current values are what `set` wrote', async () => {
    const storage = create();
    const group = randomUUID();
    await set(storage, group, 'one');
    await finish(storage, group);
    expect(await storage.getItem(group, STREAM, 'workflow')).toBeNull();
    expect((await storage.getGroup(group, STREAM)).map((e) => e.itemId)).toEqual(['a']);
  });

  test('a repeated keyed write answers with the first event, marked as a replay; new writes are not', async () => {
    const storage = create();
    const group = randomUUID();
    const first = await set(storage, group, 'one', 'k1');
    const again = await set(storage, group, 'one', 'k1');
    const unkeyed = await set(storage, group, 'two');
    expect(again).toEqual(first);
    // Metrics and traces count a write only when it is not a replay.
    expect([isReplay(first), isReplay(again), isReplay(unkeyed)]).toEqual([false, true, false]);
  });

  test('a keyed write after the group finished is stored, once', async () => {
    const storage = create();
    const group = randomUUID();
    await set(storage, group, 'one', 'k1');
    await finish(storage, group);
    const late = await set(storage, group, 'late', 'k2');
    expect(late).toMatchObject({ itemId: 'a', kind: 'set', data: { message: 'late' } });
    expect(messages((await storage.readAfter(group, null)).events)).toEqual(['one', 'done', 'late']);
  });

  test('two streams of one workflow share its log, each event naming its stream; their items stay apart', async () => {
    const storage = create();
    const group = randomUUID();
    await set(storage, group, 'first stream');
    await storage.append({
      stream: 'other',
      groupId: group,
      itemId: 'a',
      kind: 'set',
      data: { message: 'other stream' },
    });
    await finish(storage, group, 'other');
    const { events } = await storage.readAfter(group, null);
    expect(events.map((e) => [e.stream, (e.data as { message: string }).message])).toEqual([
      [STREAM, 'first stream'],
      ['other', 'other stream'],
      ['other', 'done'],
    ]);
    expect((await storage.getItem(group, STREAM, 'a'))?.data).toEqual({ message: 'first stream' });
    expect((await storage.getItem(group, 'other', 'a'))?.data).toEqual({ message: 'other stream' });
    expect((await storage.getGroup(group, 'other')).map((e) => e.stream)).toEqual(['other']);
  });

  test("a stream whose name begins with another stream's name has its own items", async () => {
    const storage = create();
    const group = randomUUID();
    await storage.append({
      stream: 'pet',
      groupId: group,
      itemId: 'a',
      kind: 'set',
      data: { message: 'pet' },
    });
    await storage.append({
      stream: 'petProfile',
      groupId: group,
      itemId: 'a',
      kind: 'set',
      data: { message: 'profile' },
    });
    expect(messages(await storage.getGroup(group, 'pet'))).toEqual(['pet']);
    expect(messages(await storage.getGroup(group, 'petProfile'))).toEqual(['profile']);
    expect(await storage.getItem(group, 'pe', 'ta')).toBeNull();
  });

  test('once closed, it holds no live listener', async () => {
    const storage = create();
    storage.listen(randomUUID(), () => {});
    expect(storage.listenerCount()).toBe(1);
    await storage.close();
    expect(storage.listenerCount()).toBe(0);
  });
});

describe('stream storage options', () => {
  test.each([0, -1, 1.5])('a history limit of %d is refused; 1 is the smallest', (historyLimit) => {
    const message = `Expected \`historyLimit\` to be an integer >= 1, got \`${historyLimit}\``;
    expect(() => new MemoryWorkflowLogStorage({ historyLimit, retentionMs: 0 })).toThrow(
      new TypeError(message),
    );
    expect(() => redisStorage({ historyLimit })).toThrow(new TypeError(message));
    expect(memoryStorage({ historyLimit: 1 })).toBeInstanceOf(MemoryWorkflowLogStorage);
    expect(redisStorage({ historyLimit: 1 })).toBeInstanceOf(RedisWorkflowLogStorage);
  });

  test.each([-1, 1.5])('on Redis, a retention of %d ms is refused; 0 is the smallest', (retentionMs) => {
    expect(() => redisStorage({ retentionMs })).toThrow(
      new TypeError(`Expected \`retentionMs\` to be an integer >= 0, got \`${retentionMs}\``),
    );
    expect(redisStorage({ retentionMs: 0 })).toBeInstanceOf(RedisWorkflowLogStorage);
  });
});

describe('Redis stream storage: resume points', () => {
  test.each([
    // 21 digits: no Redis id, though its last or first 20 digits would be one.
    ['100000000000000000001'],
    ['100000000000000000001-0'],
    // A sequence part Redis cannot read past.
    ['1-18446744073709551615'],
  ])('%s is no position of the log: a reset and the whole history', async (after) => {
    const storage = redisStorage();
    const group = randomUUID();
    await set(storage, group, 'one');
    await set(storage, group, 'two');
    const read = await storage.readAfter(group, after);
    expect({ ...read, events: messages(read.events) }).toEqual({
      events: ['one', 'two'],
      reset: true,
      unknownAfter: true,
    });
  });

  test('an id older than the whole log, with a long sequence part, reads everything without a reset', async () => {
    const storage = redisStorage();
    const group = randomUUID();
    await set(storage, group, 'one');
    expect(messages((await storage.readAfter(group, '1-10')).events)).toEqual(['one']);
    expect((await storage.readAfter(group, '1-10')).reset).toBe(false);
  });

  test('a group finished by an older version (its finished id not kept) still resumes', async () => {
    const storage = redisStorage();
    const group = randomUUID();
    const first = await set(storage, group, 'one');
    await set(storage, group, 'two');
    const admin = new Redis(TEST_REDIS_URL);
    try {
      await admin.hset(redis.keys.workflowLog(group).meta, 'finished', '1');
    } finally {
      admin.disconnect();
    }
    expect(await storage.readAfter(group, first.eventId)).toMatchObject({ reset: false });
    expect(messages((await storage.readAfter(group, first.eventId)).events)).toEqual(['two']);
  });
});

describe('memory stream storage with its own retention', () => {
  test('closing it stops the timer that would expire its finished workflows', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const storage = new MemoryWorkflowLogStorage({ historyLimit: 10, retentionMs: 60_000 });
      await finish(storage, randomUUID());
      expect(vi.getTimerCount()).toBe(1);
      await storage.close();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('memory stream storage with a shared retention', () => {
  test('counts the bytes of the events it keeps, not of those its history limit trimmed', async () => {
    const retention = new MemoryRetention({ retentionMs: 60_000 });
    open.push(() => retention.close());
    const storage = memoryStorage({ historyLimit: 2, retention });
    const group = randomUUID();
    for (const message of ['one', 'two', 'three']) await set(storage, group, message);
    expect(retention.bytes).toBe(jsonSize({ message: 'two' }) + jsonSize({ message: 'three' }));
  });

  test('closing it leaves the shared retention to the others, and its own listeners hear nothing more', async () => {
    const retention = new MemoryRetention({ retentionMs: 60_000 });
    open.push(() => retention.close());
    const closing = memoryStorage({ retention });
    const staying = memoryStorage({ retention });
    const group = randomUUID();
    await set(staying, group, 'one');
    await set(closing, group, 'one');
    await finish(staying, group);
    const heard: StoredEvent[] = [];
    closing.listen(group, (event) => heard.push(event));
    await closing.close();
    expect(retention.finishedCount).toBe(1);
    expect(retention.evictOldest()).toBe(true);
    expect(heard).toEqual([]);
    expect(await staying.readAfter(group, null)).toEqual({ events: [], reset: false });
  });

  test('a workflow dropped by the retention that wrote no event here is no error', async () => {
    const retention = new MemoryRetention({ retentionMs: 60_000 });
    open.push(() => retention.close());
    const storage = memoryStorage({ retention });
    retention.finish('elsewhere');
    expect(retention.evictOldest()).toBe(true);
    const group = randomUUID();
    await set(storage, group, 'still working');
    expect(messages((await storage.readAfter(group, null)).events)).toEqual(['still working']);
  });
});
