/** What a scenario measures: one row per server and size, one trial per round. */
import type { ServerKind } from './servers/bench-server.js';
import { median } from './stats.js';

export type Metrics = {
  /** Deliveries (or workflows, or creates) per second. */
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Server CPU µs per unit of `rate`. */
  readonly cpuUs: number;
  /** Server RSS growth per connection, KB. */
  readonly rssKb: number;
  /** Load-client CPU µs per unit, to show when the client was the limit. */
  readonly clientCpuUs: number;
  /** Redis's own CPU µs per unit, for a server on Redis. */
  readonly redisCpuUs?: number;
};
export type MetricName = keyof Metrics;

export type Row = {
  readonly scenario: string;
  readonly size: string;
  readonly kind: ServerKind;
  /** Shown instead of the server's name (e.g. the transport). */
  readonly label?: string;
  readonly unit: string;
  /** One entry per round; the same index is the same round for every row of a scenario and size. */
  readonly trials: Partial<Metrics>[];
};

/** A failed check: lost, duplicated or reordered deliveries, errors, time-outs. */
export class BenchFailure extends Error {
  override readonly name = 'BenchFailure';
}

export function medianOf(row: Row, metric: MetricName): number {
  return median(row.trials.map((t) => t[metric] ?? Number.NaN));
}

/** The median over rounds of this row's figure divided by the baseline's in the same round. */
export function ratioTo(row: Row, baseline: Row | undefined, metric: MetricName): number {
  if (!baseline || baseline === row) return Number.NaN;
  return median(
    row.trials.map((trial, round) => (trial[metric] ?? Number.NaN) / (baseline.trials[round]?.[metric] ?? Number.NaN)),
  );
}

/** The baseline row of the same scenario and size: raw ws, or the bare tRPC app for whole workflows. */
export function baselineOf(rows: readonly Row[], row: Row): Row | undefined {
  return rows.find((r) => r.scenario === row.scenario && r.size === row.size && (r.kind === 'ws' || r.kind === 'trpc-app'));
}
