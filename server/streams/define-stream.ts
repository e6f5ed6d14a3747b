import type { z } from 'zod';

import { compareEventIds, type StreamEvent } from '../../shared/stream-event.js';
import type { StreamObserver } from '../observability/hooks.js';
import { GroupFanOut, type FanOutSink } from './group-fan-out.js';
import { StreamGroupLost } from './group-lost.js';
import type { StreamStorage } from './stream-storage.js';
import { SubscriberOverflow, SubscriptionQueue } from './subscription-queue.js';

/** A stream's name and the zod schema of its items' data. */
export type StreamDefinition<TName extends string = string, TSchema extends z.ZodType = z.ZodType> = {
  readonly name: TName;
  readonly schema: TSchema;
};

export function defineStream<const TName extends string, TSchema extends z.ZodType>(
  definition: StreamDefinition<TName, TSchema>,
): StreamDefinition<TName, TSchema> {
  return definition;
}

export type SubscribeOptions = {
  /** Resume after this event id; from the start when null or absent. */
  readonly after?: string | null | undefined;
  readonly signal?: AbortSignal | undefined;
};

/** What a write is, for deriving its idempotency key. */
export type WriteDescription = {
  readonly itemId: string;
  readonly kind: 'set' | 'delete';
  readonly data: unknown;
};

export type StreamOptions = {
  /** Live events a subscriber may fall behind by before it is cut off. */
  readonly subscriberBufferLimit: number;
  /** Gives each write its idempotency key (steps set it; see StreamStorage.append). */
  readonly writeKey?: (write: WriteDescription) => string;
  /** Told of every event handed to a subscriber (metrics). */
  readonly observer?: StreamObserver;
};

/**
 * One defined stream over a storage: validated writes, current values and
 * ordered group subscriptions with history replay and resume.
 */
export class Stream<TData> {
  readonly name: string;
  readonly #schema: z.ZodType<TData>;
  readonly #storage: StreamStorage;
  readonly #options: StreamOptions;
  #fanOut: GroupFanOut | undefined;

  constructor(
    definition: StreamDefinition<string, z.ZodType<TData>>,
    storage: StreamStorage,
    options: StreamOptions,
  ) {
    this.name = definition.name;
    this.#schema = definition.schema;
    this.#storage = storage;
    this.#options = options;
  }

  /** The same stream whose writes carry idempotency keys from `writeKey`. */
  withWriteKeys(writeKey: (write: WriteDescription) => string): Stream<TData> {
    return new Stream({ name: this.name, schema: this.#schema }, this.#storage, {
      ...this.#options,
      writeKey,
    });
  }

  /** Validates, stores as the item's current value, appends and publishes one event. */
  async set(groupId: string, itemId: string, data: TData): Promise<StreamEvent<TData>> {
    const parsed = this.#schema.parse(data);
    const event = await this.#storage.append({
      stream: this.name,
      groupId,
      itemId,
      kind: 'set',
      data: parsed,
      idempotencyKey: this.#options.writeKey?.({ itemId, kind: 'set', data: parsed }),
    });
    return event as StreamEvent<TData>;
  }

  async delete(groupId: string, itemId: string): Promise<StreamEvent<TData>> {
    const event = await this.#storage.append({
      stream: this.name,
      groupId,
      itemId,
      kind: 'delete',
      data: null,
      idempotencyKey: this.#options.writeKey?.({ itemId, kind: 'delete', data: null }),
    });
    return event as StreamEvent<TData>;
  }

  /** Writes the group's last event: subscriptions end after it. */
  async finish(groupId: string, data: TData): Promise<StreamEvent<TData>> {
    const parsed = this.#schema.parse(data);
    const event = await this.#storage.append({
      stream: this.name,
      groupId,
      itemId: 'workflow',
      kind: 'finished',
      data: parsed,
      // A group finishes once, whoever calls it.
      idempotencyKey: 'finished',
    });
    return event as StreamEvent<TData>;
  }

  async get(groupId: string, itemId: string): Promise<StreamEvent<TData> | null> {
    return (await this.#storage.getItem(this.name, groupId, itemId)) as StreamEvent<TData> | null;
  }

  async getGroup(groupId: string): Promise<StreamEvent<TData>[]> {
    return (await this.#storage.getGroup(this.name, groupId)) as StreamEvent<TData>[];
  }

  /**
   * Every event of the group after `after`, in order, each once: history
   * first, then live events, ending after the `finished` event. A `reset`
   * event comes first when part of the asked-for history is gone; when
   * `after` is no position of the group's log (past its end, or another
   * group's id), the `reset` carries id `0` and the whole kept history
   * follows. Resuming after the `finished` event ends at once. A group that
   * disappears while watched (evicted, or lost by Redis) gives a `reset`,
   * then the subscription fails with StreamGroupLost.
   *
   * A subscriber that falls more than `subscriberBufferLimit` live events
   * behind drops its queue and catches up from the stored history instead,
   * so a slow reader costs bounded memory and still misses nothing that is
   * kept.
   */
  async *subscribe(groupId: string, options: SubscribeOptions = {}): AsyncGenerator<StreamEvent<TData>> {
    let last = options.after ?? null;
    while (!options.signal?.aborted) {
      const live = new SubscriptionQueue<StreamEvent<TData>>(
        this.#options.subscriberBufferLimit,
        options.signal,
      );
      // Listen before reading history: an event written during the read is
      // then in the live queue, and the id check below drops any overlap.
      const unlisten = this.#storage.listen(this.name, groupId, (event) =>
        live.push(event as StreamEvent<TData>),
      );
      try {
        const history = await this.#storage.readAfter(this.name, groupId, last);
        if (history.unknownAfter) last = null;
        if (history.reset) yield this.resetEvent(groupId, last);
        if (history.ended) return;
        for (const stored of history.events) {
          const event = stored as StreamEvent<TData>;
          this.#options.observer?.delivered(event, false);
          yield event;
          last = event.eventId;
          if (event.kind === 'finished') return;
        }
        try {
          for await (const event of live) {
            if (event.kind === 'reset') {
              yield this.resetEvent(groupId, last);
              throw new StreamGroupLost(this.name, groupId);
            }
            if (last !== null && compareEventIds(event.eventId, last) <= 0) continue;
            this.#options.observer?.delivered(event, true);
            yield event;
            last = event.eventId;
            if (event.kind === 'finished') return;
          }
          return;
        } catch (error) {
          if (!(error instanceof SubscriberOverflow)) throw error;
          // Fell too far behind: read what was missed from storage.
        }
      } finally {
        unlisten();
        live.end();
      }
    }
  }

  /**
   * The same events as `subscribe`, pushed to `sink` instead of pulled:
   * all push subscribers of a group share one storage listener, and each
   * event reaches them all in one call. Returns the function that stops it.
   */
  push(groupId: string, after: string | null, sink: FanOutSink): () => void {
    this.#fanOut ??= new GroupFanOut({
      stream: this.name,
      storage: this.#storage,
      bufferLimit: this.#options.subscriberBufferLimit,
      observer: this.#options.observer,
      resetEvent: (group, resumeAfter) => this.resetEvent(group, resumeAfter),
    });
    return this.#fanOut.subscribe(groupId, after, sink);
  }

  /**
   * The event that tells a resuming subscriber its history is gone
   * (trimmed or expired). It carries the id it resumed from (`0` for the
   * start), so resuming after it asks for the same point again.
   */
  resetEvent(groupId: string, after: string | null): StreamEvent<TData> {
    return {
      eventId: after ?? '0',
      stream: this.name,
      groupId,
      itemId: 'history',
      kind: 'reset',
      data: null,
      time: new Date().toISOString(),
    };
  }
}
