/**
 * Chooses where state lives: process memory by default (nothing to
 * install), Redis when REDIS_URL is set. Callers see only the interfaces.
 */
import { randomUUID } from 'node:crypto';

import type { Redis } from 'ioredis';

import { MemoryEventBus } from '../bus/memory-event-bus.js';
import { RedisEventBus } from '../bus/redis-event-bus.js';
import type { EventBus } from '../bus/event-bus.js';
import type { TopicRegistry } from '../bus/topics.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { MemoryWorkflowLogStorage } from '../streams/memory-storage.js';
import { RedisWorkflowLogStorage } from '../streams/redis-storage.js';
import type { WorkflowLogStorage } from '../streams/storage.js';
import { MemoryTraceStore } from '../traces/memory-trace-store.js';
import { RedisTraceStore } from '../traces/redis-trace-store.js';
import type { TraceStore } from '../traces/trace-store.js';
import { MemoryWorkflowStore } from '../workflows/memory-store.js';
import { RedisWorkflowStore } from '../workflows/redis-store.js';
import type { WorkflowStore } from '../workflows/store.js';
import { MemoryWaitStore } from '../waits/memory-wait-store.js';
import { RedisWaitStore } from '../waits/redis-wait-store.js';
import type { WaitStore } from '../waits/wait-store.js';
import { MemoryRetention } from './memory-retention.js';
import { RedisChannels } from './redis/channels.js';
import { RedisConnections } from './redis/connections.js';
import { RedisKeys } from './redis/keys.js';
import { StreamReader } from './redis/stream-reader.js';

export type Backends = {
  readonly kind: 'memory' | 'redis';
  readonly workflowStore: WorkflowStore;
  /** Steps waiting for an input (`ctx.waitFor`). */
  readonly waitStore: WaitStore;
  readonly streamStorage: WorkflowLogStorage;
  readonly traces: TraceStore;
  readonly bus: EventBus;
  /** Redis for the application's own stores, when the engine runs on it. */
  readonly redis: { readonly client: Redis; readonly keyPrefix: string } | null;
  /**
   * Which finished workflows process memory keeps (time, count and size
   * bounds): the memory stores' workflows and traces.
   */
  readonly retention: MemoryRetention;
  /** True when every backend can be reached (readiness). */
  readonly ready: () => Promise<boolean>;
  /** Releases connections; the bus must already be closed. */
  readonly close: () => Promise<void>;
};

export function createBackends(config: Config, topics: TopicRegistry, log: Logger): Backends {
  return config.redisUrl
    ? createRedisBackends(config, config.redisUrl, topics, log)
    : createMemoryBackends(config, topics);
}

function memoryRetention(config: Config): MemoryRetention {
  return new MemoryRetention({
    retentionMs: config.streams.retentionMs,
    maxFinished: config.streams.memoryMaxWorkflows,
    maxBytes: config.streams.memoryMaxBytes,
  });
}

/** Every instance pointed at the same Redis and prefix shares workflows, logs, traces and work. */
function createRedisBackends(config: Config, url: string, topics: TopicRegistry, log: Logger): Backends {
  const redis = new RedisConnections({ url, commandTimeoutMs: config.redis.commandTimeoutMs, log });
  const keys = new RedisKeys(config.redis.keyPrefix);
  // One blocking reader per process, for workflow logs and traces alike.
  const reader = new StreamReader({
    reader: redis.streamReader,
    commands: redis.commands,
    wakeKey: keys.readerWake(randomUUID()),
    log,
  });
  const streamStorage = new RedisWorkflowLogStorage({
    client: redis.commands,
    reader,
    channels: new RedisChannels({ publisher: redis.commands, subscriber: redis.subscriber, log }),
    keys,
    historyLimit: config.streams.historyLimit,
    retentionMs: config.streams.retentionMs,
  });
  const traces = new RedisTraceStore({
    client: redis.commands,
    reader,
    keys,
    ...config.traces,
    retentionMs: config.streams.retentionMs,
    log,
  });
  const workflowStore = new RedisWorkflowStore({
    client: redis.commands,
    keys,
    retentionMs: config.streams.retentionMs,
  });
  const waitStore = new RedisWaitStore({
    client: redis.commands,
    keys,
    retentionMs: config.streams.retentionMs,
  });
  const bus = new RedisEventBus({
    client: redis.commands,
    workerClient: redis.bus,
    keys,
    topics,
    maxAttempts: config.steps.maxAttempts,
    retryBaseMs: config.steps.retryBaseMs,
    leaseMs: config.steps.leaseMs,
    log,
  });
  const retention = memoryRetention(config);
  return {
    kind: 'redis',
    workflowStore,
    waitStore,
    streamStorage,
    traces,
    bus,
    redis: { client: redis.commands, keyPrefix: keys.appPrefix() },
    retention,
    ready: () => redis.ready(),
    close: async () => {
      await Promise.all([streamStorage.close(), traces.close(), workflowStore.close(), waitStore.close()]);
      reader.close();
      await redis.close();
      retention.close();
    },
  };
}

function createMemoryBackends(config: Config, topics: TopicRegistry): Backends {
  // One retention for the log storage, the workflow store and the trace store: they drop the same workflows together.
  const retention = memoryRetention(config);
  const streamStorage = new MemoryWorkflowLogStorage({
    historyLimit: config.streams.historyLimit,
    retentionMs: config.streams.retentionMs,
    retention,
  });
  const traces = new MemoryTraceStore({
    ...config.traces,
    retentionMs: config.streams.retentionMs,
    retention,
  });
  const workflowStore = new MemoryWorkflowStore(retention);
  const waitStore = new MemoryWaitStore(retention);
  const bus = new MemoryEventBus({
    topics,
    maxAttempts: config.steps.maxAttempts,
    retryBaseMs: config.steps.retryBaseMs,
  });
  return {
    kind: 'memory',
    workflowStore,
    waitStore,
    streamStorage,
    traces,
    bus,
    redis: null,
    retention,
    ready: async () => true,
    close: async () => {
      await Promise.all([streamStorage.close(), workflowStore.close(), waitStore.close()]);
      retention.close();
    },
  };
}
