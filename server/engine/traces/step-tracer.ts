import type { AttemptEnd, StepObserver } from '../observability/hooks.js';
import type { ServiceMetrics } from '../observability/metrics.js';
import type { TraceStore } from './trace-store.js';

/** Records each step attempt in its trace and in the step metrics. */
export class StepTracer implements StepObserver {
  readonly #traces: TraceStore;
  readonly #metrics: ServiceMetrics;

  constructor(traces: TraceStore, metrics: ServiceMetrics) {
    this.#traces = traces;
    this.#metrics = metrics;
  }

  readonly attemptStarted = (traceId: string, step: string, attempt: number): AttemptEnd => {
    const start = new Date();
    const started = performance.now();
    this.#traces.record(traceId, { kind: 'step_started', step, attempt });
    return (error, interrupted = false) => {
      const durationMs = performance.now() - started;
      const failed = !interrupted && error !== null && error !== undefined;
      const status = interrupted ? 'interrupted' : failed ? 'failed' : 'succeeded';
      this.#metrics.stepDuration.observe({ step, status }, durationMs / 1000);
      if (failed) this.#metrics.stepFailures.inc({ step });
      this.#traces.record(traceId, {
        kind: 'step_finished',
        step,
        attempt,
        status,
        start: start.toISOString(),
        end: new Date(start.getTime() + durationMs).toISOString(),
        durationMs: Math.round(durationMs * 1000) / 1000,
        error: failed ? describeError(error) : null,
      });
    };
  };
}

/** The message of a failure, never its stack. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message ? `${error.name}: ${error.message}` : error.name;
  return String(error);
}
