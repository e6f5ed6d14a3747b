import {
  Histogram,
  type MetricObjectWithValues,
  type MetricType,
  type MetricValueWithName,
  type Registry,
} from 'prom-client';

import { LAG_BUCKETS_SECONDS, type StreamStats } from './stream-stats.js';

type Value = MetricValueWithName<'stream' | 'le'>;

// prom-client's typings declare `type` as a numeric enum; at run time it is the type's name.
const HISTOGRAM = 'histogram' as unknown as MetricType;

export type LagHistogramOptions = {
  readonly name: string;
  readonly help: string;
  readonly registry: Registry;
  readonly stats: StreamStats;
};

/**
 * The delivery lag histogram, exposed from the buckets `StreamStats` counts
 * itself: prom-client's own `observe` hashes the labels on every call, too
 * much for the delivery path. Registered and printed like any histogram.
 */
export class LagHistogram extends Histogram<'stream'> {
  readonly #name: string;
  readonly #help: string;
  readonly #stats: StreamStats;

  constructor(options: LagHistogramOptions) {
    super({
      name: options.name,
      help: options.help,
      labelNames: ['stream'],
      buckets: [...LAG_BUCKETS_SECONDS],
      registers: [options.registry],
    });
    this.#name = options.name;
    this.#help = options.help;
    this.#stats = options.stats;
  }

  override async get(): Promise<MetricObjectWithValues<Value>> {
    const values: Value[] = [];
    for (const [stream, figures] of this.#stats.streams()) {
      let cumulative = 0;
      for (const [index, count] of figures.lagBuckets.entries()) {
        cumulative += count;
        values.push({
          metricName: `${this.#name}_bucket`,
          labels: { stream, le: LAG_BUCKETS_SECONDS[index] ?? '+Inf' },
          value: cumulative,
        });
      }
      values.push({ metricName: `${this.#name}_sum`, labels: { stream }, value: figures.lagSum });
      values.push({ metricName: `${this.#name}_count`, labels: { stream }, value: figures.lagCount });
    }
    return {
      name: this.#name,
      help: this.#help,
      type: HISTOGRAM,
      values,
      aggregator: 'sum' as const,
      collect: () => undefined,
    };
  }

  /** The registry prints what this returns (prom-client prefers it to `get`). */
  getForPromString(): Promise<MetricObjectWithValues<Value>> {
    return this.get();
  }
}
