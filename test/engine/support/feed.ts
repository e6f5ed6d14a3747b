import { tracked, type TrackedEnvelope } from '@trpc/server';

import { PUSH, type Pushable, type PushSink } from '../../../server/engine/subscriptions/push.js';

/** A subscription to a feed: pushed by our WebSocket server, pulled by anything else. */
export type FeedSubscription<T> = Pushable<T> & AsyncIterable<TrackedEnvelope<T>>;

/**
 * A small event source with history, for tests: every event is kept, a
 * subscriber gets the history after its resume point and then the live
 * events, in order, once each. It counts its consumers so that tests can
 * check that each one was let go.
 */
export class Feed<T> {
  readonly #history: (readonly [string, T])[] = [];
  readonly #sinks = new Set<PushSink<T>>();
  readonly #watchers = new Set<() => void>();
  #ended: { readonly error?: Error } | null = null;

  /** Consumers attached right now (pushed or pulled). */
  get consumers(): number {
    return this.#sinks.size;
  }

  /** Resolves once exactly `count` consumers are attached. */
  async whenConsumers(count: number): Promise<void> {
    while (this.#sinks.size !== count) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#watchers.delete(wake);
          resolve();
        };
        this.#watchers.add(wake);
      });
    }
  }

  publish(eventId: string, value: T): void {
    this.#history.push([eventId, value]);
    for (const sink of this.#sinks) sink.event(eventId, value);
  }

  end(error?: Error): void {
    this.#ended = error === undefined ? {} : { error };
    const sinks = [...this.#sinks];
    this.#sinks.clear();
    for (const sink of sinks) sink.end(error);
    this.#changed();
  }

  /** `signal` ends a pulling consumer's wait (as a generator over it needs); a pushing one is stopped instead. */
  subscribe(after?: string, signal?: AbortSignal): FeedSubscription<T> {
    return {
      [PUSH]: (sink) => this.#attach(sink, after),
      [Symbol.asyncIterator]: () => this.#iterate(after, signal),
    };
  }

  #attach(sink: PushSink<T>, after: string | undefined): () => void {
    const start = after === undefined ? 0 : this.#history.findIndex(([id]) => id === after) + 1;
    for (const [id, value] of this.#history.slice(start)) sink.event(id, value);
    if (this.#ended) {
      sink.end(this.#ended.error);
      return () => undefined;
    }
    this.#sinks.add(sink);
    this.#changed();
    return () => {
      if (this.#sinks.delete(sink)) this.#changed();
    };
  }

  #changed(): void {
    for (const wake of this.#watchers) wake();
  }

  /** The pull side: attached at once (not on the first `next()`), detached by `return()`. */
  #iterate(after: string | undefined, signal: AbortSignal | undefined): AsyncIterator<TrackedEnvelope<T>> {
    const queue: (readonly [string, T])[] = [];
    let end: { readonly error?: Error } | null = null;
    let wake: (() => void) | null = null;
    const stop = this.#attach(
      {
        event: (id, value) => {
          queue.push([id, value]);
          wake?.();
        },
        end: (error) => {
          end =
            error === undefined
              ? {}
              : { error: error instanceof Error ? error : new Error('The feed failed') };
          wake?.();
        },
      },
      after,
    );
    signal?.addEventListener('abort', () => {
      stop();
      end = {};
      wake?.();
    });
    return {
      next: async (): Promise<IteratorResult<TrackedEnvelope<T>>> => {
        for (;;) {
          const item = queue.shift();
          if (item) return { done: false, value: tracked(item[0], item[1]) };
          const ended: { readonly error?: Error } | null = end;
          if (ended) {
            if (ended.error !== undefined) throw ended.error;
            return { done: true, value: undefined };
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      },
      return: async () => {
        stop();
        return { done: true, value: undefined };
      },
    };
  }
}
