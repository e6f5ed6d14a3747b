/**
 * Our server as it ships: the composition root from the configuration, the
 * real router and WebSocket transport; events go through
 * `streams.petCreation.set`, and the last one through `finish`.
 */
import { createApp } from '../../../server/app.js';
import { loadConfig } from '../../../server/config.js';
import { newTraceId } from '../../../server/context.js';
import { createLogger } from '../../../server/log.js';
import { PetCreationItem } from '../../../shared/pet-creation.js';
import { now } from '../clock.js';
import { makePayload } from '../payload.js';
import type { BenchGroup, BenchServer } from './bench-server.js';

export type OurServerOptions = {
  /** Base URL of the loopback fake model (`…/v1`). */
  readonly modelUrl: string;
};

export function createOurServer(options: OurServerOptions): BenchServer {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    // Logging cost depends on where lines go; the delivery path is measured without it.
    LOG_LEVEL: 'silent',
    FEEDING_CHECK_DELAY_MS: '0',
    STEP_RETRY_BASE_MS: '0',
    STREAM_TOKEN_SECRET: 'bench-secret-that-is-at-least-32-characters',
    OPENAI_API_KEY: 'bench-key',
    OPENAI_BASE_URL: options.modelUrl,
    OPENAI_MAX_RETRIES: '0',
    MAX_CONNECTIONS: '100000',
    // One load client stands for thousands of users: no per-client budget.
    MAX_CONNECTIONS_PER_CLIENT: '100000',
    RATE_LIMIT_CREATE_PER_MINUTE: '0',
  });
  const app = createApp(config, createLogger({ level: 'silent' }));
  const { streams, workflows, tokens, bus } = app.services;

  return {
    listen: async () => (await app.listen()).port,
    openGroups: async (count) => {
      const groups: BenchGroup[] = [];
      for (let i = 0; i < count; i += 1) {
        const traceId = newTraceId();
        await workflows.start(traceId, 'petCreation', `bench ${i}`);
        groups.push({ id: traceId, token: tokens.issue(traceId) });
      }
      return groups;
    },
    writeSweep: async (ids, seq, last) => {
      await Promise.all(
        ids.map((id) => {
          const data = makePayload(seq, now());
          return last ? streams.petCreation.finish(id, data) : streams.petCreation.set(id, PetCreationItem.message, data);
        }),
      );
    },
    idle: () => bus.onIdle(),
    close: () => app.close(),
  };
}
