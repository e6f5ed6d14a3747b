/**
 * Stream storage details the contract suite leaves open: option checks,
 * resuming after `0`, resume points Redis cannot read past, what counts as
 * an item, writes after the end, several streams in one group, the bytes the
 * memory backend accounts for, and closing.
 */
import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';

import { MemoryRetention, jsonSize } from '../../server/store/memory-retention.js';
import { MemoryStreamStorage } from '../../server/streams/memory-stream-storage.js';
import { RedisStreamStorage } from '../../server/streams/redis-stream-storage.js';
import type { StoredEvent, StreamStorage } from '../../server/streams/stream-storage.js';
import { redisFixture, silentLogger, TEST_REDIS_URL } from '../support/redis.js';

const redis = redisFixture();
afterAll(() => redis.cleanup());

const open: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
  await redis.disconnect();
});

function memoryStorage(options: { historyLimit?: number; retention?: MemoryRetention } = {}) {
  const storage = new MemoryStreamStorage({
    historyLimit: options.historyLimit ?? 100,
    retentionMs: 60_000,
    ...options,
  });
  open.push(() => storage.close());
  return storage;
}

function redisStorage(options: { historyLimit?: number; retentionMs?: number } = {}) {
  const connections = redis.connect();
  const storage = new RedisStreamStorage({
    client: connections.commands,
    reader: connections.streamReader,
    keys: redis.keys,
    historyLimit: options.historyLimit ?? 100,
    retentionMs: options.retentionMs ?? 60_000,
    log: silentLogger(),
  });
  open.push(() => storage.close());
  return storage;
}

const STREAM = 'details';
/** Sets item `a`. */
const set = (storage: StreamStorage, groupId: string, message: string, idempotencyKey?: string) =>
  storage.append({ stream: STREAM, groupId, itemId: 'a', kind: 'set', data: { message }, idempotencyKey });
const finish = (storage: StreamStorage, groupId: string, stream = STREAM) =>
  storage.append({ stream, groupId, itemId: 'workflow', kind: 'finished', data: { message: 'done' } });
const messages = (events: readonly StoredEvent[]) =>
  events.map((e) => (e.data as { message: string }).message);

describe.each([
  { name: 'memory', create: () => memoryStorage() },
  { name: 'redis', create: () => redisStorage() },
])('stream storage details: $name', ({ create }) => {
  test('resuming after `0`, the id a reset from the start carries, is reading from the start: no reset', async () => {
    const storage = create();
    expect(await storage.readAfter(STREAM, randomUUID(), '0')).toEqual({ events: [], reset: false });
    const group = randomUUID();
    await set(storage, group, 'one');
    await set(storage, group, 'two');
    const read = await storage.readAfter(STREAM, group, '0');
    expect(messages(read.events)).toEqual(['one', 'two']);
    expect(read.reset).toBe(false);
    expect(read.unknownAfter).toBeUndefined();
  });

  test('the finished event is no item: current values are what `set` wrote', async () => {
    const storage = create();
    const group = randomUUID();
    await set(storage, group, 'one');
    await finish(storage, group);
    expect(await storage.getItem(STREAM, group, 'workflow')).toBeNull();
    expect((await storage.getGroup(STREAM, group)).map((e) => e.itemId)).toEqual(['a']);
  });

  test('a keyed write after the group finished is stored, once', async () => {
    const storage = create();
    const group = randomUUID();
    await set(storage, group, 'one', 'k1');
    await finish(storage, group);
    const late = await set(storage, group, 'late', 'k2');
    expect(late).toMatchObject({ itemId: 'a', kind: 'set', data: { message: 'late' } });
    expect(messages((await storage.readAfter(STREAM, group, null)).events)).toEqual(['one', 'done', 'late']);
  });

  test('two streams in one group are two logs', async () => {
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
    expect(messages((await storage.readAfter(STREAM, group, null)).events)).toEqual(['first stream']);
    expect(messages((await storage.readAfter('other', group, null)).events)).toEqual([
      'other stream',
      'done',
    ]);
    expect((await storage.getItem(STREAM, group, 'a'))?.data).toEqual({ message: 'first stream' });
  });

  test('once closed, it holds no live listener', async () => {
    const storage = create();
    storage.listen(STREAM, randomUUID(), () => {});
    expect(storage.listenerCount()).toBe(1);
    await storage.close();
    expect(storage.listenerCount()).toBe(0);
  });
});

describe('stream storage options', () => {
  test.each([0, -1, 1.5])('a history limit of %d is refused; 1 is the smallest', (historyLimit) => {
    const message = `Expected \`historyLimit\` to be an integer >= 1, got \`${historyLimit}\``;
    expect(() => new MemoryStreamStorage({ historyLimit, retentionMs: 0 })).toThrow(new TypeError(message));
    expect(() => redisStorage({ historyLimit })).toThrow(new TypeError(message));
    expect(memoryStorage({ historyLimit: 1 })).toBeInstanceOf(MemoryStreamStorage);
    expect(redisStorage({ historyLimit: 1 })).toBeInstanceOf(RedisStreamStorage);
  });

  test.each([-1, 1.5])('on Redis, a retention of %d ms is refused; 0 is the smallest', (retentionMs) => {
    expect(() => redisStorage({ retentionMs })).toThrow(
      new TypeError(`Expected \`retentionMs\` to be an integer >= 0, got \`${retentionMs}\``),
    );
    expect(redisStorage({ retentionMs: 0 })).toBeInstanceOf(RedisStreamStorage);
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
    const read = await storage.readAfter(STREAM, group, after);
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
    expect(messages((await storage.readAfter(STREAM, group, '1-10')).events)).toEqual(['one']);
    expect((await storage.readAfter(STREAM, group, '1-10')).reset).toBe(false);
  });

  test('a group finished by an older version (its finished id not kept) still resumes', async () => {
    const storage = redisStorage();
    const group = randomUUID();
    const first = await set(storage, group, 'one');
    await set(storage, group, 'two');
    const admin = new Redis(TEST_REDIS_URL);
    try {
      await admin.hset(redis.keys.streamGroup(STREAM, group).meta, 'finished', '1');
    } finally {
      admin.disconnect();
    }
    expect(await storage.readAfter(STREAM, group, first.eventId)).toMatchObject({ reset: false });
    expect(messages((await storage.readAfter(STREAM, group, first.eventId)).events)).toEqual(['two']);
  });
});

describe('memory stream storage with its own retention', () => {
  test('closing it stops the timer that would expire its finished groups', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const storage = new MemoryStreamStorage({ historyLimit: 10, retentionMs: 60_000 });
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
    closing.listen(STREAM, group, (event) => heard.push(event));
    await closing.close();
    expect(retention.finishedCount).toBe(1);
    expect(retention.evictOldest()).toBe(true);
    expect(heard).toEqual([]);
    expect(await staying.readAfter(STREAM, group, null)).toEqual({ events: [], reset: false });
  });

  test('a workflow dropped by the retention that wrote no event here is no error', async () => {
    const retention = new MemoryRetention({ retentionMs: 60_000 });
    open.push(() => retention.close());
    const storage = memoryStorage({ retention });
    retention.finish('elsewhere');
    expect(retention.evictOldest()).toBe(true);
    const group = randomUUID();
    await set(storage, group, 'still working');
    expect(messages((await storage.readAfter(STREAM, group, null)).events)).toEqual(['still working']);
  });
});
