/**
 * Counts the open subscriptions of one connection against its limit
 * (`MAX_SUBSCRIPTIONS_PER_CONNECTION`).
 */
export class SubscriptionSlots {
  readonly limit: number;
  #open = 0;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new TypeError(`Expected \`limit\` to be an integer >= 1, got \`${limit}\``);
    }
    this.limit = limit;
  }

  get open(): number {
    return this.#open;
  }

  /** Takes a slot; returns its release function (safe to call twice), or null when all are taken. */
  take(): (() => void) | null {
    if (this.#open >= this.limit) return null;
    this.#open += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open -= 1;
    };
  }
}

/**
 * The same iterable, calling `release` once it ends, fails or is returned,
 * even when it is returned before it was ever pulled.
 */
export function releaseWhenDone<T>(source: AsyncIterable<T>, release: () => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const iterator = source[Symbol.asyncIterator]();
      return {
        async next() {
          try {
            const result = await iterator.next();
            if (result.done) release();
            return result;
          } catch (error) {
            release();
            throw error;
          }
        },
        async return(value?: unknown) {
          release();
          return (await iterator.return?.(value)) ?? { done: true, value: undefined };
        },
      };
    },
  };
}
