/**
 * Builds the service's backends (store, stream storage, bus) and the engine
 * on top of them, without any transport. In-process callers and the HTTP/WS
 * app share it.
 */
import { randomBytes } from 'node:crypto';

import { OpenAIProfileGenerator } from './ai/openai-profile.js';
import { createBackends, type Backends } from './backends.js';
import { closeInOrder } from './close-in-order.js';
import type { Config } from './config.js';
import type { Services } from './context.js';
import { logSinkOf, type Logger } from './log.js';
import { Observability } from './observability/observability.js';
import { ApiKeys } from './security/api-keys.js';
import { RateLimiter } from './security/rate-limiter.js';
import { StreamTokens } from './security/stream-tokens.js';
import { createStreams } from './streams/registry.js';
import { startSteps } from './workers/step-runner.js';
import { steps as allSteps } from './workers/steps/index.js';
import type { Step } from './workers/define-step.js';
import { Workflows } from './workers/workflows.js';

/** Events a subscriber may fall behind by before it is cut off (it can resume). */
export const SUBSCRIBER_BUFFER_LIMIT = 10_000;

export type ServiceOverrides = {
  /** Replaces the declared steps (tests add failing ones). */
  readonly steps?: readonly Step[];
};

export type RunningServices = Services & {
  readonly backends: Backends;
  /**
   * Running steps get up to `graceMs` (SHUTDOWN_TIMEOUT_MS when absent) to
   * finish; what has not finished then is interrupted: reported as such,
   * never as a failure. The backends stay open.
   */
  readonly stopSteps: (graceMs?: number) => Promise<void>;
  /**
   * Stops the steps (as `stopSteps`), then releases the backends and the
   * observability; each part is closed even if another fails.
   */
  readonly close: () => Promise<void>;
};

export function createServices(
  config: Config,
  log: Logger,
  overrides: ServiceOverrides = {},
): RunningServices {
  const steps = overrides.steps ?? allSteps;
  const backends = createBackends(config, log);
  const observability = new Observability({
    log,
    retentionMs: config.streams.retentionMs,
    retention: backends.retention,
    ...config.traces,
  });
  observability.metrics.countDroppedLogLinesWith(() => logSinkOf(log)?.dropped ?? 0);
  const { pets } = backends;
  // Writes, emits and workflow starts and finishes are recorded on their way to the backends.
  const { workflowStore, bus, streamStorage } = observability.instrument(backends);

  const streams = createStreams(streamStorage, {
    subscriberBufferLimit: SUBSCRIBER_BUFFER_LIMIT,
    observer: observability.streams,
  });
  const workflows = new Workflows({
    store: workflowStore,
    streams,
    steps,
    log,
    ...config.workflows,
    observer: observability.workflows,
  });
  const profiles = config.openai.apiKey
    ? new OpenAIProfileGenerator({ ...config.openai, apiKey: config.openai.apiKey })
    : null;
  const tokens = new StreamTokens({
    secret: tokenSecret(config, log),
    previousSecrets: config.streams.previousTokenSecrets,
    ttlSeconds: config.streams.tokenTtlSeconds,
  });
  const apiKeys = new ApiKeys(config.security.apiKeys);
  const createRate = new RateLimiter({
    perMinute: config.limits.createRatePerMinute,
    burst: config.limits.createRateBurst,
  });
  const services: Services = {
    log,
    bus,
    streams,
    workflows,
    tokens,
    apiKeys,
    createRate,
    pets,
    profiles,
    config,
    observability,
  };
  startSteps({
    bus,
    steps,
    streams,
    workflows,
    services: { pets, profiles, config },
    log,
    timeoutMs: config.steps.timeoutMs,
    observer: observability.steps,
  });

  let stepsStopped: Promise<void> | undefined;
  const stopSteps = (graceMs = config.limits.shutdownTimeoutMs) => (stepsStopped ??= bus.close(graceMs));

  return {
    ...services,
    backends,
    stopSteps,
    close: () =>
      closeInOrder([
        ['workflow checks', () => workflows.stop()],
        ['steps', () => stopSteps()],
        // After the steps: running attempts use the backends until they end.
        ['backends', () => backends.close()],
        ['observability', () => observability.close()],
      ]),
  };
}

function tokenSecret(config: Config, log: Logger): string {
  if (config.streams.tokenSecret) return config.streams.tokenSecret;
  log.warn(
    'STREAM_TOKEN_SECRET is not set: using a random secret for this process; stream tokens will not survive a restart',
  );
  return randomBytes(32).toString('base64url');
}
