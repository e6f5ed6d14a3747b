import type { MetricValue } from 'prom-client';

import type { SystemStats } from '../../../shared/system-stats.js';
import type { ServiceMetrics } from './metrics.js';

type Values = readonly MetricValue<string>[];

export type StatsInputs = {
  readonly metrics: ServiceMetrics;
  readonly startedAt: number;
  readonly traces: number;
  readonly deliveryRate: (total: number) => number;
  readonly writeRate: (total: number) => number;
};

/** The same figures `/metrics` shows, as one JSON object. */
export async function readStats(inputs: StatsInputs): Promise<SystemStats> {
  const { metrics } = inputs;
  const [
    ws,
    wsMessages,
    http,
    active,
    written,
    delivered,
    lag,
    steps,
    failures,
    started,
    finished,
    evicted,
    droppedLines,
  ] = await Promise.all([
    metrics.wsConnections.get(),
    metrics.wsMessages.get(),
    metrics.httpRequests.get(),
    metrics.subscriptionsActive.get(),
    metrics.eventsWritten.get(),
    metrics.eventsDelivered.get(),
    metrics.deliveryLag.get(),
    metrics.stepDuration.get(),
    metrics.stepFailures.get(),
    metrics.workflowsStarted.get(),
    metrics.workflowsFinished.get(),
    metrics.workflowsEvicted.get(),
    metrics.logLinesDropped.get(),
  ]);
  const writtenTotal = sum(written.values);
  const deliveredTotal = sum(delivered.values);
  const workflowsStarted = sum(started.values);
  const workflowsFinished = sum(finished.values);

  const lagCount = sum(named(lag.values, '_count'));
  const lagSum = sum(named(lag.values, '_sum'));

  const byStep: SystemStats['steps']['byStep'] = {};
  for (const value of named(steps.values, '_count')) {
    const step = String(value.labels['step']);
    const entry = (byStep[step] ??= { runs: 0, failures: 0, meanMs: null });
    entry.runs += value.value;
  }
  for (const [step, entry] of Object.entries(byStep)) {
    const total = sum(named(steps.values, '_sum').filter((v) => v.labels['step'] === step));
    entry.meanMs = entry.runs > 0 ? round((total / entry.runs) * 1000) : null;
    entry.failures = sum(failures.values.filter((v) => v.labels.step === step));
  }

  return {
    at: new Date().toISOString(),
    uptimeSeconds: round((Date.now() - inputs.startedAt) / 1000),
    connectedClients: sum(ws.values),
    activeSubscriptions: { total: sum(active.values), byStream: byLabel(active.values, 'stream') },
    eventsWritten: { total: writtenTotal, byStream: byLabel(written.values, 'stream') },
    eventsDelivered: { total: deliveredTotal, byStream: byLabel(delivered.values, 'stream') },
    deliveryRatePerSecond: round(inputs.deliveryRate(deliveredTotal)),
    writeRatePerSecond: round(inputs.writeRate(writtenTotal)),
    deliveryLag: {
      count: lagCount,
      meanMs: lagCount > 0 ? round((lagSum / lagCount) * 1000) : null,
      p95Ms: quantileMs(named(lag.values, '_bucket'), lagCount, 0.95),
    },
    workflows: {
      started: workflowsStarted,
      finished: workflowsFinished,
      running: Math.max(0, workflowsStarted - workflowsFinished),
      evicted: sum(evicted.values),
    },
    steps: { runs: sum(named(steps.values, '_count')), failures: sum(failures.values), byStep },
    requests: { http: sum(http.values), ws: sum(wsMessages.values) },
    traces: inputs.traces,
    logLinesDropped: sum(droppedLines.values),
  };
}

function named(values: Values, suffix: string): Values {
  return values.filter(
    (v) => 'metricName' in v && typeof v.metricName === 'string' && v.metricName.endsWith(suffix),
  );
}

function sum(values: Values): number {
  return values.reduce((total, v) => total + v.value, 0);
}

function byLabel(values: Values, label: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const v of values) {
    const key = String(v.labels[label]);
    result[key] = (result[key] ?? 0) + v.value;
  }
  return result;
}

/** The upper bound (ms) of the bucket holding quantile `q`, summed over every label set. */
function quantileMs(buckets: Values, count: number, q: number): number | null {
  if (count === 0) return null;
  const cumulative = new Map<number, number>();
  for (const b of buckets) {
    const le = b.labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(b.labels['le']);
    cumulative.set(le, (cumulative.get(le) ?? 0) + b.value);
  }
  const target = count * q;
  for (const [le, seen] of [...cumulative].sort(([a], [b]) => a - b)) {
    if (seen >= target) return Number.isFinite(le) ? round(le * 1000) : null;
  }
  return null;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
