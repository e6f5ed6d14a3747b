/**
 * Test access to the real Redis on 127.0.0.1:6379 (CI starts it). Each test
 * file works under its own random key prefix and deletes its keys after.
 */
import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';

import { createLogger, type Logger } from '../../server/engine/log.js';
import { RedisConnections } from '../../server/engine/backends/redis/connections.js';
import { RedisKeys } from '../../server/engine/backends/redis/keys.js';
import { StreamReader } from '../../server/engine/backends/redis/stream-reader.js';
import { RedisWorkflowLogStorage } from '../../server/engine/streams/redis-storage.js';
import type { StoredEvent } from '../../server/engine/streams/storage.js';

export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';

export const silentLogger = (): Logger => createLogger({ level: 'silent' });

/** A fresh prefix such as `test:4f1c…:`; nothing else writes under it. */
export function randomKeyPrefix(): string {
  return `test:${randomUUID()}:`;
}

/** Removes every key under `prefix`. */
export async function deleteKeys(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/** How many keys exist under `prefix`. */
export async function countKeys(prefix: string, url = TEST_REDIS_URL): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      count += keys.length;
    } while (cursor !== '0');
    return count;
  } finally {
    client.disconnect();
  }
}

/**
 * Redis for one test file: `connect()` opens one process's worth of
 * connections (call it twice for two instances), all under one prefix;
 * `cleanup()` closes them and deletes the keys.
 */
export function redisFixture(prefix = randomKeyPrefix()) {
  const opened: RedisConnections[] = [];
  return {
    prefix,
    keys: new RedisKeys(prefix),
    connect(name = `test-${randomUUID().slice(0, 8)}`): RedisConnections {
      const connections = new RedisConnections({
        url: TEST_REDIS_URL,
        commandTimeoutMs: 2000,
        log: silentLogger(),
        name,
      });
      opened.push(connections);
      return connections;
    },
    /** Closes the connections opened so far (their users must be closed first). */
    async disconnect(): Promise<void> {
      await Promise.all(opened.splice(0).map((c) => c.close()));
    },
    async cleanup(): Promise<void> {
      await this.disconnect();
      await deleteKeys(prefix);
    },
  };
}

/** A workflow's log as stored under `prefix` (of one stream when given), read straight from Redis (not through any server). */
export async function storedEvents(
  prefix: string,
  stream: string | null,
  groupId: string,
): Promise<StoredEvent[]> {
  const fixture = redisFixture(prefix);
  const connections = fixture.connect();
  const reader = new StreamReader({
    reader: connections.streamReader,
    commands: connections.commands,
    wakeKey: fixture.keys.readerWake(randomUUID()),
    log: silentLogger(),
  });
  const storage = new RedisWorkflowLogStorage({
    client: connections.commands,
    reader,
    keys: fixture.keys,
    historyLimit: 1_000_000,
    retentionMs: 60_000,
  });
  try {
    const { events } = await storage.readAfter(groupId, null);
    return events.filter((event) => stream === null || event.stream === stream);
  } finally {
    await storage.close();
    reader.close();
    await fixture.disconnect();
  }
}

/** The two backends a behaviour is tested on: memory, and the real Redis under `prefix`. */
export function bothBackends(prefix: string) {
  return [
    { name: 'memory', env: {} },
    { name: 'redis', env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix } },
  ] as const;
}
