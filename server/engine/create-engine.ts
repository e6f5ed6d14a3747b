/**
 * Builds the engine (backends, observability, workflows, steps) and the
 * application's services on top of it, without any transport. In-process
 * callers and the HTTP/WS server share it.
 */
import { randomBytes } from 'node:crypto';

import type { Application } from './application.js';
import { createBackends, type Backends } from './backends/create-backends.js';
import { closeInOrder } from './close-in-order.js';
import type { Config } from './config.js';
import { logSinkOf, type Logger } from './log.js';
import { Observability } from './observability/observability.js';
import { OtelTracing } from './observability/otel-tracing.js';
import { ApiKeys } from './security/api-keys.js';
import { RateLimiter } from './security/rate-limiter.js';
import { StreamTokens } from './security/stream-tokens.js';
import { WorkflowLog } from './streams/workflow-log.js';
import type { EngineServices } from './transport/context.js';
import { CancelSignals } from './workflows/cancellation.js';
import { WorkflowRegistry } from './workflows/registry.js';
import { WorkflowRuntime } from './workflows/runtime.js';
import { startSteps } from './workflows/step-runner.js';
import { WorkflowTracker } from './workflows/tracker.js';

/** Events a subscriber may fall behind by before it catches up from storage. */
export const SUBSCRIBER_BUFFER_LIMIT = 10_000;

export type Engine = EngineServices & {
  readonly application: Application;
  readonly backends: Backends;
  /**
   * Running steps get up to `graceMs` (SHUTDOWN_TIMEOUT_MS when absent) to
   * finish; what has not finished then is interrupted: reported as such,
   * never as a failure. The backends stay open.
   */
  readonly stopSteps: (graceMs?: number) => Promise<void>;
  /**
   * Stops the steps (as `stopSteps`), then releases the application's
   * services, the backends and the observability; each part is closed
   * even if another fails.
   */
  readonly close: () => Promise<void>;
};

export function createEngine(config: Config, log: Logger, application: Application): Engine {
  const registry = new WorkflowRegistry(application.workflows);
  const backends = createBackends(config, registry.topics, log);
  const observability = new Observability({
    log,
    retentionMs: config.streams.retentionMs,
    retention: backends.retention,
    traces: backends.traces,
    ...config.traces,
    // No endpoint, no SDK: the engine then holds no tracing at all.
    tracing: config.otel ? new OtelTracing(config.otel, log) : null,
  });
  observability.metrics.countDroppedLogLinesWith(() => logSinkOf(log)?.dropped ?? 0);
  // Writes, emits and workflow starts and finishes are recorded on their way to the backends.
  const { workflowStore, bus, streamStorage } = observability.instrument(backends);
  const workflowLog = new WorkflowLog(streamStorage, {
    subscriberBufferLimit: SUBSCRIBER_BUFFER_LIMIT,
    observer: observability.streams,
  });
  const services = application.createServices({ config, logger: log, redis: backends.redis });
  const cancelSignals = new CancelSignals({ log: workflowLog, shared: backends.kind === 'redis' });
  const tracker = new WorkflowTracker({
    store: workflowStore,
    log: workflowLog,
    workflows: registry,
    cancelSignals,
    services,
    logger: log,
    ...config.workflows,
    observer: observability.workflows,
  });
  const tokens = new StreamTokens({
    secret: tokenSecret(config, log),
    previousSecrets: config.streams.previousTokenSecrets,
    ttlSeconds: config.streams.tokenTtlSeconds,
  });
  const { tracing } = observability;
  const workflows = new WorkflowRuntime({
    registry,
    tracker,
    log: workflowLog,
    bus,
    tokens,
    cancelSignals,
    logger: log,
    tracing,
  });
  startSteps({
    bus,
    registry,
    log: workflowLog,
    tracker,
    cancelSignals,
    services,
    fenceServices: application.fenceServices,
    logger: log,
    timeoutMs: config.steps.timeoutMs,
    observer: observability.steps,
    tracing,
  });

  let stepsStopped: Promise<void> | undefined;
  const stopSteps = (graceMs = config.limits.shutdownTimeoutMs) => (stepsStopped ??= bus.close(graceMs));

  return {
    config,
    log,
    bus,
    workflowLog,
    workflows,
    tokens,
    apiKeys: new ApiKeys(config.security.apiKeys),
    startRate: new RateLimiter({
      perMinute: config.limits.createRatePerMinute,
      burst: config.limits.createRateBurst,
    }),
    observability,
    services,
    application,
    backends,
    stopSteps,
    close: () =>
      closeInOrder([
        ['workflow checks', () => tracker.stop()],
        ['steps', () => stopSteps()],
        // After the steps: running attempts use the services and backends until they end.
        ['application services', () => application.closeServices?.(services)],
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
