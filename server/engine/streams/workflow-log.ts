import type { ZodType } from 'zod';

import type { StreamObserver } from '../observability/hooks.js';
import {
  resetEvent,
  WorkflowFanOut,
  type FanOutSink,
  type FanOutSubscription,
} from '../subscriptions/fan-out.js';
import { pullEvents } from '../subscriptions/pull.js';
import {
  Stream,
  type StreamDefinition,
  type StreamMap,
  type StreamsOf,
  type WriteKey,
} from './define-stream.js';
import type { StoredEvent, WorkflowLogStorage } from './storage.js';

export type WorkflowLogOptions = {
  /** Live events a subscriber may fall behind by (or collect while its history is read) before it catches up from storage. */
  readonly subscriberBufferLimit: number;
  /** Told of every event handed to a subscriber, and of subscriptions opening and closing (metrics). */
  readonly observer?: StreamObserver | undefined;
};

/** What a subscriber asks the log for; see FanOutSubscription. */
export type LogSubscription = Omit<FanOutSubscription, 'resetStream'> & {
  /** The stream named by `reset` events; the first of `streams` when absent. */
  readonly resetStream?: string;
};

/**
 * The workflow logs of one engine: the storage, the one fan-out over it,
 * and the typed streams that write to it. Every stream of a workflow writes
 * to the same ordered log, and every subscription, pulled or pushed, is
 * served by the same fan-out.
 */
export class WorkflowLog {
  readonly storage: WorkflowLogStorage;
  readonly fanOut: WorkflowFanOut;
  readonly #bufferLimit: number;
  /** The tail of each key's turns (see inTurn); gone once it has run. */
  readonly #turns = new Map<string, Promise<void>>();

  constructor(storage: WorkflowLogStorage, options: WorkflowLogOptions) {
    this.storage = storage;
    this.#bufferLimit = options.subscriberBufferLimit;
    this.fanOut = new WorkflowFanOut({
      storage,
      bufferLimit: options.subscriberBufferLimit,
      observer: options.observer,
    });
  }

  /** One stream over this log. */
  stream<TName extends string, TData>(
    definition: StreamDefinition<TName, ZodType<TData>>,
  ): Stream<TData, TName> {
    return new Stream(definition, this);
  }

  /** Typed streams by name, their writes keyed by `writeKey` when given. */
  streams<TStreams extends StreamMap>(definitions: TStreams, writeKey?: WriteKey): StreamsOf<TStreams> {
    // Each entry is made from the definition of the same name, so its data
    // type is that stream's schema type: the cast only restates the keys.
    return Object.fromEntries(
      Object.entries(definitions).map(([name, definition]) => [name, new Stream(definition, this, writeKey)]),
    ) as unknown as StreamsOf<TStreams>;
  }

  /** A subscription pulled as an async iterable (see pullEvents). */
  pull(
    groupId: string,
    subscription: LogSubscription & { readonly signal?: AbortSignal | undefined },
  ): AsyncGenerator<StoredEvent, void, undefined> {
    return pullEvents(this.fanOut, groupId, {
      ...subscription,
      resetStream: subscription.resetStream ?? subscription.streams[0] ?? '',
      bufferLimit: this.#bufferLimit,
    });
  }

  /** A subscription pushed to `sink`. Returns the function that stops it. */
  push(groupId: string, subscription: LogSubscription, sink: FanOutSink): () => void {
    return this.fanOut.subscribe(
      groupId,
      { ...subscription, resetStream: subscription.resetStream ?? subscription.streams[0] ?? '' },
      sink,
    );
  }

  /** Runs `work` after every earlier work of the same `key` on this engine has settled. */
  inTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#turns.get(key) ?? Promise.resolve();
    const run = previous.then(work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#turns.set(key, tail);
    void tail.then(() => {
      if (this.#turns.get(key) === tail) this.#turns.delete(key);
    });
    return run;
  }

  resetEvent(groupId: string, after: string | null, stream: string): StoredEvent {
    return resetEvent(groupId, after, stream);
  }
}
