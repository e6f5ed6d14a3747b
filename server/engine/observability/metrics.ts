import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import { LagHistogram } from './lag-histogram.js';
import { processMetrics } from './process-metrics.js';
import { StreamStats } from './stream-stats.js';

const PREFIX = 'pet_stream_';

/**
 * The service's Prometheus instruments, on a registry of their own (never
 * the global one), so that apps in one process keep separate figures.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  /** Stream figures, counted as plain numbers on the delivery path and read when scraped. */
  readonly streams = new StreamStats();

  readonly wsConnections = new Gauge({
    name: `${PREFIX}ws_connections`,
    help: 'Open WebSocket connections (connected clients)',
    registers: [this.registry],
  });

  readonly wsMessages = new Counter({
    name: `${PREFIX}ws_messages_received_total`,
    help: 'WebSocket requests received, by tRPC method',
    labelNames: ['method'] as const,
    registers: [this.registry],
  });

  readonly httpRequests = new Counter({
    name: `${PREFIX}http_requests_total`,
    help: 'HTTP requests answered, by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly subscriptionsActive = new Gauge<'stream'>({
    name: `${PREFIX}subscriptions_active`,
    help: 'Open stream subscriptions (WebSocket, SSE and in-process), by stream',
    labelNames: ['stream'] as const,
    registers: [this.registry],
    collect: (): void => {
      for (const [stream, figures] of this.streams.streams())
        this.subscriptionsActive.set({ stream }, figures.active);
    },
  });

  readonly eventsWritten = new Counter<'stream'>({
    name: `${PREFIX}stream_events_written_total`,
    help: 'Events appended to streams by this process, by stream',
    labelNames: ['stream'] as const,
    registers: [this.registry],
    collect: (): void => this.#copy(this.eventsWritten, 'written'),
  });

  readonly eventsDelivered = new Counter<'stream'>({
    name: `${PREFIX}stream_events_delivered_total`,
    help: 'Events handed to subscribers (history replay and live), by stream',
    labelNames: ['stream'] as const,
    registers: [this.registry],
    collect: (): void => this.#copy(this.eventsDelivered, 'delivered'),
  });

  readonly deliveryLag = new LagHistogram({
    name: `${PREFIX}stream_delivery_lag_seconds`,
    help: 'Time from an event being written to its subscription yielding it to the transport (live events only)',
    registry: this.registry,
    stats: this.streams,
  });

  readonly stepDuration = new Histogram({
    name: `${PREFIX}step_duration_seconds`,
    help: 'Duration of step attempts, by step and status (succeeded, failed, or interrupted by shutdown)',
    labelNames: ['step', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly stepFailures = new Counter({
    name: `${PREFIX}step_failures_total`,
    help: 'Failed step attempts (each retry that fails counts), by step',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });

  readonly workflowsStarted = new Counter({
    name: `${PREFIX}workflows_started_total`,
    help: 'Workflows started by this process, by flow',
    labelNames: ['flow'] as const,
    registers: [this.registry],
  });

  readonly workflowsFinished = new Counter({
    name: `${PREFIX}workflows_finished_total`,
    help: 'Workflows this process saw finish, by flow and outcome (succeeded; failed when a step ended dead or the workflow ran too long; lost when storage no longer had it; cancelled)',
    labelNames: ['flow', 'outcome'] as const,
    registers: [this.registry],
  });

  #countTraces: () => number = () => 0;

  readonly tracesStored = new Gauge({
    name: `${PREFIX}traces_stored`,
    help: 'Workflow traces kept in memory',
    registers: [this.registry],
    collect: (): void => this.tracesStored.set(this.#countTraces()),
  });

  #countDroppedLogLines: () => number = () => 0;

  readonly logLinesDropped = new Counter({
    name: `${PREFIX}log_lines_dropped_total`,
    help: 'Log lines dropped because the log reader (standard output) was too slow or gone',
    registers: [this.registry],
    collect: (): void => {
      this.logLinesDropped.reset();
      this.logLinesDropped.inc(this.#countDroppedLogLines());
    },
  });

  /** Where `log_lines_dropped_total` reads its running total at each scrape. */
  countDroppedLogLinesWith(source: () => number): void {
    this.#countDroppedLogLines = source;
  }

  /** Where `traces_stored` reads its figure at each scrape. */
  countTracesWith(source: () => number): void {
    this.#countTraces = source;
  }

  #retained: () => { readonly evicted: number; readonly bytes: number } = () => ({ evicted: 0, bytes: 0 });

  readonly workflowsEvicted = new Counter({
    name: `${PREFIX}workflows_evicted_total`,
    help: 'Finished workflows dropped from memory before their retention time, to stay within MEMORY_MAX_WORKFLOWS and MEMORY_MAX_BYTES (oldest finished first)',
    registers: [this.registry],
    collect: (): void => {
      this.workflowsEvicted.reset();
      this.workflowsEvicted.inc(this.#retained().evicted);
    },
  });

  readonly retainedBytes = new Gauge({
    name: `${PREFIX}memory_retained_bytes`,
    help: 'Estimated size (as JSON) of the stream events and trace entries kept in memory, running workflows included',
    registers: [this.registry],
    collect: (): void => this.retainedBytes.set(this.#retained().bytes),
  });

  /** Where `workflows_evicted_total` and `memory_retained_bytes` read their figures at each scrape. */
  countRetentionWith(source: () => { readonly evicted: number; readonly bytes: number }): void {
    this.#retained = source;
  }

  /** Sets a counter to the running total kept in `streams`. */
  #copy(counter: Counter<'stream'>, figure: 'written' | 'delivered'): void {
    counter.reset();
    for (const [stream, figures] of this.streams.streams()) counter.inc({ stream }, figures[figure]);
  }

  /** The Prometheus content type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The service's metrics and the process's, in Prometheus text format. */
  async text(): Promise<string> {
    const [own, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${process}`;
  }
}
