/**
 * Push delivery: a subscription source that calls its consumer for each
 * event instead of being pulled. A transport that can write an event the
 * moment it exists (our WebSocket server, plain SSE) uses this; everything
 * else pulls the same source as an AsyncIterable.
 */

/**
 * The key of a source's push entry point. Registered globally so that two
 * copies of this module (a bundler, a test runner) still agree on it.
 */
export const PUSH: unique symbol = Symbol.for('pet-stream.engine.push');

/** Where a pushing source delivers. */
export type PushSink<T> = {
  /**
   * One event, in order. `value` must not be changed afterwards: a
   * transport may reuse what it made from it for every consumer that
   * gets the same object.
   */
  readonly event: (eventId: string, value: T) => void;
  /** The source is done: completed without an error, failed with one. At most once; nothing follows. */
  readonly end: (error?: unknown) => void;
};

/**
 * A source that can push. `[PUSH](sink)` starts delivery and returns the
 * function that stops it. The source may call the sink before returning
 * (history it already holds). The stop function may be called more than
 * once and after `end`; once it has run, the sink is not called again.
 * A transport may drop a source without starting it (its call was stopped
 * first): whatever it holds before `[PUSH]` must be let go when the
 * procedure's `signal` aborts.
 */
export interface Pushable<T> {
  [PUSH](sink: PushSink<T>): () => void;
}

export function isPushable(value: unknown): value is Pushable<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as Partial<Pushable<unknown>>)[PUSH] === 'function'
  );
}
