/**
 * Traces and metrics of one service instance: the trace store, the
 * Prometheus instruments, the hooks the engine reports to, and the
 * decorators that record what the backends do.
 */
import type http from 'node:http';

import type { WebSocket } from 'ws';

import type { SystemStats } from '../../../shared/system-stats.js';
import type { EventBus } from '../bus/event-bus.js';
import { logTapOf, type Logger } from '../log.js';
import type { MemoryRetention } from '../backends/memory-retention.js';
import type { WorkflowStore } from '../workflows/store.js';
import type { WorkflowLogStorage } from '../streams/storage.js';
import type { HttpRoute } from '../transport/http-routes.js';
import type { StepObserver, StreamObserver, WorkflowObserver, WorkflowTracing } from './hooks.js';
import { countHttpRequests } from './http-metrics.js';
import { MemoryTraceStore } from '../traces/memory-trace-store.js';
import { ServiceMetrics } from './metrics.js';
import { ObservedEventBus } from './observed-event-bus.js';
import { ObservedStreamStorage } from './observed-stream-storage.js';
import { ObservedWorkflowStore } from './observed-workflow-store.js';
import { RateWindow } from './rate-window.js';
import { StepTracer } from '../traces/step-tracer.js';
import { readStats } from './system-stats.js';
import type { TraceStore } from '../traces/trace-store.js';
import { countWsTraffic } from './ws-metrics.js';

export type ObservabilityOptions = {
  readonly log: Logger;
  /** Traces kept; the oldest is dropped beyond it. */
  readonly maxTraces: number;
  /** Entries kept per trace; the oldest are dropped beyond it. */
  readonly maxEntries: number;
  /** How long a finished workflow's trace is kept, in ms. */
  readonly retentionMs: number;
  /** Replaces the in-memory trace store. */
  readonly traces?: TraceStore;
  /** Decides which finished workflows memory keeps; shared with the memory backends when they are used. */
  readonly retention?: MemoryRetention;
  /** Exported spans (OpenTelemetry), when configured. */
  readonly tracing?: WorkflowTracing | null;
};

/** The backends the service records through. */
export type ObservedBackends = {
  readonly bus: EventBus;
  readonly workflowStore: WorkflowStore;
  readonly streamStorage: WorkflowLogStorage;
};

/** Rates are read over this window. */
const RATE_WINDOW_MS = 10_000;
const RATE_SAMPLE_MS = 1000;

export class Observability {
  readonly metrics = new ServiceMetrics();
  readonly traces: TraceStore;
  /** Reported to by every stream subscription. */
  readonly streams: StreamObserver;
  /** Reported to by the step runner. */
  readonly steps: StepObserver;
  /** Reported to by workflow tracking. */
  readonly workflows: WorkflowObserver;
  /** Spans exported through OpenTelemetry; null when no endpoint is configured. */
  readonly tracing: WorkflowTracing | null;

  readonly #startedAt = Date.now();
  readonly #deliveryRate = new RateWindow(RATE_WINDOW_MS);
  readonly #writeRate = new RateWindow(RATE_WINDOW_MS);
  readonly #sampler: NodeJS.Timeout;
  readonly #untap: () => void;

  constructor(options: ObservabilityOptions) {
    this.traces =
      options.traces ??
      new MemoryTraceStore({
        maxTraces: options.maxTraces,
        maxEntries: options.maxEntries,
        retentionMs: options.retentionMs,
        retention: options.retention,
      });
    this.tracing = options.tracing ?? null;
    this.streams = this.metrics.streams;
    this.steps = new StepTracer(this.traces, this.metrics);
    this.workflows = {
      lost: (_traceId, flow) => this.metrics.workflowsFinished.inc({ flow, outcome: 'lost' }),
    };
    this.metrics.countTracesWith(() => this.traces.size());
    const { retention } = options;
    if (retention)
      this.metrics.countRetentionWith(() => ({ evicted: retention.evictedTotal, bytes: retention.bytes }));
    // Log lines with a trace id join their trace (loggers from createLogger only).
    this.#untap =
      logTapOf(options.log)?.on((line) => {
        this.traces.record(line.traceId, {
          kind: 'log',
          level: logLevel(line.level),
          msg: line.msg,
          step: line.step,
        });
      }) ?? noop;
    this.#sample(Date.now(), 0, 0);
    // Rates come from totals sampled once a second: nothing on the delivery path.
    this.#sampler = setInterval(() => this.#sampleNow(), RATE_SAMPLE_MS);
    this.#sampler.unref();
  }

  /** The backends as the service should use them: writes, emits and workflow starts/finishes recorded. */
  instrument(backends: ObservedBackends): ObservedBackends {
    return {
      bus: new ObservedEventBus(backends.bus, this.traces, this.tracing),
      workflowStore: new ObservedWorkflowStore(backends.workflowStore, this.traces, this.metrics),
      streamStorage: new ObservedStreamStorage(
        backends.streamStorage,
        this.traces,
        this.metrics.streams,
        this.tracing,
      ),
    };
  }

  /** Counts the server's HTTP requests. */
  observeHttp(server: http.Server, routes: readonly HttpRoute[]): void {
    countHttpRequests(server, routes, this.metrics);
  }

  /** Counts a WebSocket connection and its requests. */
  observeWs(socket: WebSocket): void {
    countWsTraffic(socket, this.metrics);
  }

  stats(): Promise<SystemStats> {
    const now = Date.now();
    return readStats({
      metrics: this.metrics,
      startedAt: this.#startedAt,
      traces: this.traces.size(),
      deliveryRate: (total) => this.#deliveryRate.rate(now, total),
      writeRate: (total) => this.#writeRate.rate(now, total),
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#sampler);
    this.#untap();
    await Promise.all([this.traces.close(), this.tracing?.close()]);
  }

  #sampleNow(): void {
    let delivered = 0;
    let written = 0;
    for (const [, figures] of this.metrics.streams.streams()) {
      delivered += figures.delivered;
      written += figures.written;
    }
    this.#sample(Date.now(), delivered, written);
  }

  #sample(at: number, delivered: number, written: number): void {
    this.#deliveryRate.add(at, delivered);
    this.#writeRate.add(at, written);
  }
}

const noop = () => undefined;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

function logLevel(label: string): (typeof LEVELS)[number] {
  return LEVELS.find((level) => level === label) ?? 'info';
}
