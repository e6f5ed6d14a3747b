/**
 * An idempotent append that stores nothing says so (`isReplay`), on memory
 * and on Redis, whichever instance stored the first copy: what counts and
 * traces writes records each stored event once, even when a step's retry
 * runs on another instance than its first attempt.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, describe, expect, test } from 'vitest';

import { StreamReader } from '../../server/engine/backends/redis/stream-reader.js';
import { MemoryWorkflowLogStorage } from '../../server/engine/streams/memory-storage.js';
import { RedisWorkflowLogStorage } from '../../server/engine/streams/redis-storage.js';
import { isReplay, type AppendInput, type WorkflowLogStorage } from '../../server/engine/streams/storage.js';
import { redisFixture, silentLogger } from '../support/redis.js';

const redis = redisFixture();
afterAll(() => redis.cleanup());

const options = { historyLimit: 1000, retentionMs: 60_000 };

/** One Redis instance's storage, and how to close it. */
function redisInstance(): { readonly storage: WorkflowLogStorage; readonly close: () => Promise<void> } {
  const connections = redis.connect();
  const reader = new StreamReader({
    reader: connections.streamReader,
    commands: connections.commands,
    wakeKey: redis.keys.readerWake(randomUUID()),
    log: silentLogger(),
  });
  const storage = new RedisWorkflowLogStorage({
    client: connections.commands,
    reader,
    keys: redis.keys,
    ...options,
  });
  return {
    storage,
    close: async () => {
      await storage.close();
      reader.close();
    },
  };
}

const write = (groupId: string, key: string | undefined, kind: AppendInput['kind'] = 'set'): AppendInput => ({
  groupId,
  stream: 'progress',
  itemId: 'step',
  kind,
  data: { message: 'hello' },
  idempotencyKey: key,
});

describe('replayed appends are told apart', () => {
  test('memory: the first append is new, the same key again is a replay of it, the stored event stays unmarked', async () => {
    const storage = new MemoryWorkflowLogStorage(options);
    try {
      const groupId = randomUUID();
      const first = await storage.append(write(groupId, 'k1'));
      const again = await storage.append(write(groupId, 'k1'));
      expect(isReplay(first)).toBe(false);
      expect(isReplay(again)).toBe(true);
      expect(again).toEqual(first);
      // What a reader gets is the stored event, never the marked answer.
      const { events } = await storage.readAfter(groupId, null);
      expect(events).toEqual([first]);
      expect(events.map(isReplay)).toEqual([false]);
      // Without a key, or with another, a write is new.
      expect(isReplay(await storage.append(write(groupId, undefined)))).toBe(false);
      expect(isReplay(await storage.append(write(groupId, 'k2')))).toBe(false);
      // The finished event's key is kept after the others are forgotten.
      const finished = await storage.append(write(groupId, 'end', 'finished'));
      expect(isReplay(finished)).toBe(false);
      expect(isReplay(await storage.append(write(groupId, 'end', 'finished')))).toBe(true);
    } finally {
      await storage.close();
    }
  });

  test('Redis: a key first used on one instance is a replay on another', async () => {
    const a = redisInstance();
    const b = redisInstance();
    try {
      const groupId = randomUUID();
      const first = await a.storage.append(write(groupId, 'k1'));
      const onB = await b.storage.append(write(groupId, 'k1'));
      const onA = await a.storage.append(write(groupId, 'k1'));
      expect([isReplay(first), isReplay(onB), isReplay(onA)]).toEqual([false, true, true]);
      expect(onB).toEqual(first);
      expect(onA).toEqual(first);
      expect(isReplay(await b.storage.append(write(groupId, undefined)))).toBe(false);
      expect(isReplay(await b.storage.append(write(groupId, 'k2')))).toBe(false);
      const { events } = await b.storage.readAfter(groupId, null);
      expect(events).toHaveLength(3);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await redis.disconnect();
    }
  });
});
