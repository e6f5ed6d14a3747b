import type { StoredEvent } from '../streams/storage.js';
import type { StreamObserver } from './hooks.js';

/** Upper bounds (seconds) of the delivery lag histogram's buckets; one more bucket holds the rest. */
export const LAG_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** One stream's running figures. */
export type StreamFigures = {
  written: number;
  delivered: number;
  active: number;
  /** Live deliveries per lag bucket (not cumulative); the last one is above every bound. */
  readonly lagBuckets: number[];
  lagSum: number;
  lagCount: number;
};

/**
 * Per-stream counters kept as plain numbers: a delivery costs a map lookup
 * and a few increments, with no allocation. The Prometheus metrics read
 * them when scraped.
 */
export class StreamStats implements StreamObserver {
  readonly #byStream = new Map<string, StreamFigures>();
  // Fan-out hands the same event to every subscriber in turn: its write time is parsed once.
  #lastEvent: StoredEvent | null = null;
  #lastWrittenAt = 0;

  written(stream: string): void {
    this.#figures(stream).written += 1;
  }

  subscribed(stream: string): void {
    this.#figures(stream).active += 1;
  }

  unsubscribed(stream: string): void {
    this.#figures(stream).active -= 1;
  }

  readonly delivered = (event: StoredEvent, live: boolean): void => {
    const figures = this.#figures(event.stream);
    figures.delivered += 1;
    // Replayed history is old by design: only live events measure lag.
    if (!live) return;
    if (event !== this.#lastEvent) {
      this.#lastEvent = event;
      this.#lastWrittenAt = Date.parse(event.time);
    }
    const lag = Math.max(0, Date.now() - this.#lastWrittenAt) / 1000;
    let bucket = 0;
    while (bucket < LAG_BUCKETS_SECONDS.length && lag > (LAG_BUCKETS_SECONDS[bucket] ?? 0)) bucket += 1;
    figures.lagBuckets[bucket] = (figures.lagBuckets[bucket] ?? 0) + 1;
    figures.lagSum += lag;
    figures.lagCount += 1;
  };

  /** Every stream seen so far, with its figures. */
  streams(): IterableIterator<[string, Readonly<StreamFigures>]> {
    return this.#byStream.entries();
  }

  #figures(stream: string): StreamFigures {
    let figures = this.#byStream.get(stream);
    if (!figures) {
      figures = {
        written: 0,
        delivered: 0,
        active: 0,
        lagBuckets: new Array<number>(LAG_BUCKETS_SECONDS.length + 1).fill(0),
        lagSum: 0,
        lagCount: 0,
      };
      this.#byStream.set(stream, figures);
    }
    return figures;
  }
}
