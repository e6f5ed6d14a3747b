/**
 * Our server as it ships: the composition root from the configuration, the
 * real router and WebSocket transport; events go through
 * `streams.petCreation.set`, and the last one through `finish`.
 */
import { createWriteStream } from 'node:fs';

import { shelter } from '../../../server/app/pet-shelter/application.js';
import { petCreationStream } from '../../../server/app/pet-shelter/pets/streams.js';
import { petCreationWorkflow } from '../../../server/app/pet-shelter/pets/workflow.js';
import { createServer } from '../../../server/engine/create-server.js';
import { loadConfig } from '../../../server/engine/config.js';
import { createLogger } from '../../../server/engine/log.js';
import { LogSink } from '../../../server/engine/log-sink.js';
import { PetCreationItem } from '../../../shared/pet-creation.js';
import { now } from '../clock.js';
import { makePayload } from '../payload.js';
import type { BenchGroup, BenchServer } from './bench-server.js';

export type OurServerOptions = {
  /** Base URL of the loopback fake model (`…/v1`). */
  readonly modelUrl: string;
  /** Runs on Redis (under `redisKeyPrefix`) instead of the memory backends. */
  readonly redisUrl?: string;
  readonly redisKeyPrefix?: string;
  /**
   * `info` for whole workflows, as in production (the lines go to /dev/null
   * through the service's own sink); `silent` where only delivery is measured.
   */
  readonly logLevel?: 'info' | 'silent';
};

export function createOurServer(options: OurServerOptions): BenchServer {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: options.logLevel ?? 'silent',
    FEEDING_CHECK_DELAY_MS: '0',
    STEP_RETRY_BASE_MS: '0',
    STREAM_TOKEN_SECRET: 'bench-secret-that-is-at-least-32-characters',
    OPENAI_API_KEY: 'bench-key',
    OPENAI_BASE_URL: options.modelUrl,
    OPENAI_MAX_RETRIES: '0',
    MAX_CONNECTIONS: '100000',
    // One load client stands for thousands of users: no per-client budget.
    MAX_CONNECTIONS_PER_CLIENT: '100000',
    MAX_SUBSCRIPTIONS_PER_CONNECTION: '100000',
    RATE_LIMIT_CREATE_PER_MINUTE: '0',
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl, REDIS_KEY_PREFIX: options.redisKeyPrefix } : {}),
  });
  const destination = options.logLevel === 'info' ? new LogSink(createWriteStream('/dev/null')) : undefined;
  const app = createServer(config, createLogger({ level: config.logLevel, ...(destination ? { destination } : {}) }), shelter);
  const { workflows, bus } = app.engine;
  const petCreation = app.engine.workflowLog.stream(petCreationStream);

  return {
    listen: async () => (await app.listen()).port,
    openGroups: async (count) => {
      const groups: BenchGroup[] = [];
      for (let i = 0; i < count; i += 1) {
        // Started, but nothing is published: no step runs, the bench writes the events itself.
        const run = await workflows.start(petCreationWorkflow, { subject: `bench ${i}`, starter: 'Bench' });
        groups.push({ id: run.traceId, token: run.streamToken });
      }
      return groups;
    },
    writeSweep: async (ids, seq, last) => {
      await Promise.all(
        ids.map((id) => {
          const data = makePayload(seq, now());
          return last ? petCreation.finish(id, data) : petCreation.set(id, PetCreationItem.message, data);
        }),
      );
    },
    idle: () => bus.onIdle(),
    close: () => app.close(),
  };
}
