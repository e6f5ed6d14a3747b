import { createDeferred, type Deferred } from '../../../shared/deferred.js';

/** Thrown into a subscription whose consumer fell too far behind. */
export class SubscriberOverflow extends Error {
  override readonly name = 'SubscriberOverflow';
  constructor(readonly limit: number) {
    super(`subscriber fell more than ${limit} events behind`);
  }
}

/**
 * The bridge from push listeners to a pull-based async iterator, with an
 * explicit bound: a consumer that stops pulling fails with SubscriberOverflow
 * instead of growing memory without limit (the stream engine then drops the
 * queue and catches up from storage).
 */
export class SubscriptionQueue<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  readonly #limit: number;
  #waiting: Deferred<IteratorResult<T>> | undefined;
  #error: Error | undefined;
  #done = false;
  /** Stops listening to the caller's signal: a reader that overflows makes a new queue on the same signal. */
  #unlisten: (() => void) | undefined;

  constructor(limit: number, signal?: AbortSignal) {
    this.#limit = limit;
    if (signal?.aborted) {
      this.end();
      return;
    }
    if (signal) {
      const onAbort = () => this.end();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlisten = () => signal.removeEventListener('abort', onAbort);
    }
  }

  /** Queues `item`; unless `bounded` is false, a queue already at its limit fails instead. */
  push(item: T, bounded = true): void {
    if (this.#done) return;
    if (this.#waiting) {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting.resolve({ value: item, done: false });
      return;
    }
    if (bounded && this.#items.length >= this.#limit) {
      this.fail(new SubscriberOverflow(this.#limit));
      return;
    }
    this.#items.push(item);
  }

  /** Ends the iteration after the items already queued; with `error`, it then fails with it. */
  end(error?: Error): void {
    if (this.#done) return;
    if (error) this.#error = error;
    this.#done = true;
    this.#release();
  }

  /** Ends the iteration with an error, dropping what is queued. */
  fail(error: Error): void {
    this.#error = error;
    this.#items.length = 0;
    this.#done = true;
    this.#release();
  }

  #release(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
    this.#settleWaiting();
  }

  get size(): number {
    return this.#items.length;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      // Length checked: shift() yields a queued item, even when T admits undefined.
      return Promise.resolve({ value: this.#items.shift() as T, done: false });
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    this.#waiting = createDeferred<IteratorResult<T>>();
    return this.#waiting.promise;
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #settleWaiting(): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    this.#waiting = undefined;
    if (this.#error) waiting.reject(this.#error);
    else waiting.resolve({ value: undefined, done: true });
  }
}
