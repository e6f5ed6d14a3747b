/**
 * Checks every delivery of a trial and times it: each subscription must get
 * sequence numbers 1..events, in order, each once. Anything else is
 * recorded as an error, which fails the run.
 */
import { createDeferred } from '../../shared/deferred.js';
import { now } from './clock.js';
import { readPayload } from './payload.js';
import { quantile } from './stats.js';

export type TrialResult = {
  readonly deliveries: number;
  readonly expected: number;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Load-client CPU time while receiving, µs. */
  readonly clientCpuUs: number;
  readonly errors: readonly string[];
};

const MAX_ERRORS_KEPT = 20;

export class DeliveryTracker {
  readonly #events: number;
  readonly #expected: number;
  readonly #latencies: Float64Array;
  readonly #errors: string[] = [];
  readonly #done = createDeferred<void>();
  #errorCount = 0;
  #count = 0;
  #unfinished: number;
  #firstAt = Number.NaN;
  #lastAt = Number.NaN;
  #cpuMark: NodeJS.CpuUsage | undefined;

  constructor(subscriptions: number, events: number) {
    this.#events = events;
    this.#expected = subscriptions * events;
    this.#latencies = new Float64Array(this.#expected);
    this.#unfinished = events > 0 ? subscriptions : 0;
  }

  /** Starts the client CPU clock (after every subscription is acknowledged). */
  arm(): void {
    this.#cpuMark = process.cpuUsage();
  }

  /** The receiver of one subscription: call it with each delivered payload. */
  receiver(label: string): (data: unknown) => void {
    let next = 1;
    return (data) => {
      const at = now();
      const stamp = readPayload(data);
      if (!stamp) {
        this.error(`${label}: not a bench payload: ${JSON.stringify(data).slice(0, 120)}`);
        return;
      }
      if (stamp.seq !== next) this.error(`${label}: expected n=${next}, got n=${stamp.seq}`);
      next = stamp.seq + 1;
      if (this.#count < this.#latencies.length) this.#latencies[this.#count] = at - stamp.writtenAt;
      this.#count += 1;
      if (Number.isNaN(this.#firstAt)) this.#firstAt = at;
      this.#lastAt = at;
      if (stamp.seq === this.#events) {
        this.#unfinished -= 1;
        if (this.#unfinished === 0) this.#done.resolve();
      }
    };
  }

  error(message: string): void {
    this.#errorCount += 1;
    if (this.#errors.length < MAX_ERRORS_KEPT) this.#errors.push(message);
  }

  /** Waits until every subscription got its last event, or `timeoutMs`. */
  async result(timeoutMs: number): Promise<TrialResult> {
    if (this.#unfinished > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([this.#done.promise, timedOut]);
      clearTimeout(timer);
      if (this.#unfinished > 0) {
        this.error(`timed out after ${timeoutMs} ms: ${this.#count} of ${this.#expected} deliveries`);
      }
    }
    const cpu = process.cpuUsage(this.#cpuMark);
    if (this.#count !== this.#expected) this.error(`${this.#count} deliveries, expected ${this.#expected}`);
    const latencies = this.#latencies.subarray(0, Math.min(this.#count, this.#latencies.length));
    return {
      deliveries: this.#count,
      expected: this.#expected,
      firstAt: this.#firstAt,
      lastAt: this.#lastAt,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      maxMs: quantile(latencies, 1),
      clientCpuUs: cpu.user + cpu.system,
      errors: this.#errorCount > this.#errors.length ? [...this.#errors, `… ${this.#errorCount} errors in all`] : this.#errors,
    };
  }
}
