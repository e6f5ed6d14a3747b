/**
 * Chooses where state lives: process memory by default (nothing to
 * install), Redis when REDIS_URL is set. Callers see only the interfaces.
 */
import { MemoryEventBus } from './bus/memory-event-bus.js';
import { RedisEventBus } from './bus/redis-event-bus.js';
import type { EventBus } from './bus/event-bus.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { RedisConnections } from './redis/connections.js';
import { RedisKeys } from './redis/keys.js';
import { MemoryStreamStorage } from './streams/memory-stream-storage.js';
import { RedisStreamStorage } from './streams/redis-stream-storage.js';
import type { StreamStorage } from './streams/stream-storage.js';
import { MemoryPetStore } from './store/memory-pet-store.js';
import { MemoryRetention } from './store/memory-retention.js';
import type { PetStore } from './store/pet-store.js';
import { RedisPetStore } from './store/redis-pet-store.js';
import { MemoryWorkflowStore } from './store/memory-workflow-store.js';
import { RedisWorkflowStore } from './store/redis-workflow-store.js';
import type { WorkflowStore } from './store/workflow-store.js';

export type Backends = {
  readonly kind: 'memory' | 'redis';
  readonly pets: PetStore;
  readonly workflowStore: WorkflowStore;
  readonly streamStorage: StreamStorage;
  readonly bus: EventBus;
  /**
   * Which finished workflows process memory keeps (time, count and size
   * bounds): the memory stores' workflows on the memory backend, traces on
   * either.
   */
  readonly retention: MemoryRetention;
  /** True when every backend can be reached (readiness). */
  readonly ready: () => Promise<boolean>;
  /** Releases connections; the bus must already be closed. */
  readonly close: () => Promise<void>;
};

export function createBackends(config: Config, log: Logger): Backends {
  return config.redisUrl ? createRedisBackends(config, config.redisUrl, log) : createMemoryBackends(config);
}

function memoryRetention(config: Config): MemoryRetention {
  return new MemoryRetention({
    retentionMs: config.streams.retentionMs,
    maxFinished: config.streams.memoryMaxWorkflows,
    maxBytes: config.streams.memoryMaxBytes,
  });
}

/** Every instance pointed at the same Redis and prefix shares pets, workflows, streams and work. */
function createRedisBackends(config: Config, url: string, log: Logger): Backends {
  const redis = new RedisConnections({ url, commandTimeoutMs: config.redis.commandTimeoutMs, log });
  const keys = new RedisKeys(config.redis.keyPrefix);
  const streamStorage = new RedisStreamStorage({
    client: redis.commands,
    reader: redis.streamReader,
    keys,
    historyLimit: config.streams.historyLimit,
    retentionMs: config.streams.retentionMs,
    log,
  });
  const pets = new RedisPetStore({ client: redis.commands, keys });
  const workflowStore = new RedisWorkflowStore({
    client: redis.commands,
    keys,
    retentionMs: config.streams.retentionMs,
  });
  const bus = new RedisEventBus({
    client: redis.commands,
    workerClient: redis.bus,
    keys,
    maxAttempts: config.steps.maxAttempts,
    retryBaseMs: config.steps.retryBaseMs,
    leaseMs: config.steps.leaseMs,
    log,
  });
  const retention = memoryRetention(config);
  return {
    kind: 'redis',
    pets,
    workflowStore,
    streamStorage,
    bus,
    retention,
    ready: () => redis.ready(),
    close: async () => {
      await Promise.all([streamStorage.close(), pets.close(), workflowStore.close()]);
      await redis.close();
      retention.close();
    },
  };
}

function createMemoryBackends(config: Config): Backends {
  // One retention for the stream storage, the workflow store and the trace store: they drop the same workflows together.
  const retention = memoryRetention(config);
  const streamStorage = new MemoryStreamStorage({
    historyLimit: config.streams.historyLimit,
    retentionMs: config.streams.retentionMs,
    retention,
  });
  const pets = new MemoryPetStore();
  const workflowStore = new MemoryWorkflowStore(retention);
  const bus = new MemoryEventBus({
    maxAttempts: config.steps.maxAttempts,
    retryBaseMs: config.steps.retryBaseMs,
  });
  return {
    kind: 'memory',
    pets,
    workflowStore,
    streamStorage,
    bus,
    retention,
    ready: async () => true,
    close: async () => {
      await Promise.all([streamStorage.close(), pets.close(), workflowStore.close()]);
      retention.close();
    },
  };
}
