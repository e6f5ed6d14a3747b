/**
 * Push delivery of a stream's groups to many subscribers: one storage
 * listener per group, whatever the number of subscribers, and each event
 * handed to every subscriber in the same call. Each subscriber gets what
 * `Stream.subscribe` gives: history after its resume point (a `reset` event
 * first when part of it is gone, or when the resume point is unknown), then
 * live events, each once and in order, ending after the `finished` event,
 * or with StreamGroupLost after a `reset` when the group disappears.
 */
import { compareEventIds } from '../../shared/stream-event.js';
import type { StreamObserver } from '../observability/hooks.js';
import { StreamGroupLost } from './group-lost.js';
import type { StoredEvent, StreamStorage } from './stream-storage.js';

/** Where one subscriber's events go. */
export type FanOutSink = {
  /** One event, in order; called synchronously, so it must not wait. */
  readonly event: (event: StoredEvent) => void;
  /** The subscription ended: after the `finished` event (no error), or failed (history read, group lost). */
  readonly end: (error?: unknown) => void;
};

export type GroupFanOutOptions = {
  readonly stream: string;
  readonly storage: StreamStorage;
  /** Live events a subscriber may collect while its history is read; beyond, it reads history again. */
  readonly bufferLimit: number;
  readonly observer?: StreamObserver | undefined;
  /** The event that tells a subscriber resuming after `after` that its history is gone. */
  readonly resetEvent: (groupId: string, after: string | null) => StoredEvent;
};

type Subscriber = {
  readonly sink: FanOutSink;
  last: string | null;
  /** Live events that came while history was being read; null once live. */
  pending: StoredEvent[] | null;
  overflowed: boolean;
  closed: boolean;
  /** Leaves the group (set once joined). */
  leave: () => void;
};

type Group = {
  readonly subscribers: Set<Subscriber>;
  readonly unlisten: () => void;
};

export class GroupFanOut {
  readonly #options: GroupFanOutOptions;
  readonly #groups = new Map<string, Group>();

  constructor(options: GroupFanOutOptions) {
    if (!Number.isInteger(options.bufferLimit) || options.bufferLimit < 1) {
      throw new TypeError(`Expected \`bufferLimit\` to be an integer >= 1, got \`${options.bufferLimit}\``);
    }
    this.#options = options;
  }

  /** Groups with a live listener (for leak checks). */
  get groupCount(): number {
    return this.#groups.size;
  }

  /**
   * Starts delivering the group's events after `after` to `sink`. Returns
   * the function that stops it (safe to call twice; `end` is not called).
   */
  subscribe(groupId: string, after: string | null, sink: FanOutSink): () => void {
    const group = this.#groups.get(groupId) ?? this.#openGroup(groupId);
    const subscriber: Subscriber = {
      sink,
      last: after,
      pending: [],
      overflowed: false,
      closed: false,
      leave: () => this.#leave(groupId, group, subscriber),
    };
    // Joins before history is read: an event written during the read is
    // then pending, and the id check drops any overlap.
    group.subscribers.add(subscriber);
    this.#options.observer?.subscribed?.(this.#options.stream);
    void this.#catchUp(groupId, subscriber);
    return subscriber.leave;
  }

  #openGroup(groupId: string): Group {
    const subscribers = new Set<Subscriber>();
    const unlisten = this.#options.storage.listen(this.#options.stream, groupId, (event) => {
      if (event.kind === 'reset') {
        for (const subscriber of subscribers) this.#lose(groupId, subscriber);
        return;
      }
      for (const subscriber of subscribers) this.#onLive(subscriber, event);
    });
    // Storage counts each listener as a subscription; this shared one is not: subscribers count themselves.
    this.#options.observer?.unsubscribed?.(this.#options.stream);
    const group: Group = { subscribers, unlisten };
    this.#groups.set(groupId, group);
    return group;
  }

  #leave(groupId: string, group: Group, subscriber: Subscriber): void {
    if (subscriber.closed) return;
    subscriber.closed = true;
    subscriber.pending = null;
    group.subscribers.delete(subscriber);
    this.#options.observer?.unsubscribed?.(this.#options.stream);
    if (group.subscribers.size > 0 || this.#groups.get(groupId) !== group) return;
    this.#groups.delete(groupId);
    this.#options.observer?.subscribed?.(this.#options.stream);
    group.unlisten();
  }

  #onLive(subscriber: Subscriber, event: StoredEvent): void {
    if (subscriber.closed) return;
    const pending = subscriber.pending;
    if (pending === null) {
      this.#deliverLive(subscriber, event);
      return;
    }
    if (subscriber.overflowed) return;
    if (pending.length >= this.#options.bufferLimit) {
      // Too much came during the history read: read again from storage.
      subscriber.overflowed = true;
      pending.length = 0;
      return;
    }
    pending.push(event);
  }

  /** Delivers a live event unless already delivered; false once the subscription ended. */
  #deliverLive(subscriber: Subscriber, event: StoredEvent): boolean {
    if (subscriber.last !== null && !isAfter(event.eventId, subscriber.last)) return true;
    this.#options.observer?.delivered(event, true);
    subscriber.last = event.eventId;
    subscriber.sink.event(event);
    if (event.kind !== 'finished') return !subscriber.closed;
    this.#finish(subscriber);
    return false;
  }

  /** The group is gone: a `reset`, then the end with StreamGroupLost. */
  #lose(groupId: string, subscriber: Subscriber): void {
    if (subscriber.closed) return;
    subscriber.sink.event(this.#options.resetEvent(groupId, subscriber.last));
    this.#finish(subscriber, new StreamGroupLost(this.#options.stream, groupId));
  }

  #finish(subscriber: Subscriber, error?: unknown): void {
    if (subscriber.closed) return;
    // Leaving first: the sink's end may subscribe again.
    subscriber.leave();
    subscriber.sink.end(error);
  }

  async #catchUp(groupId: string, subscriber: Subscriber): Promise<void> {
    const { storage, stream } = this.#options;
    while (!subscriber.closed) {
      let history;
      try {
        history = await storage.readAfter(stream, groupId, subscriber.last);
      } catch (error) {
        this.#finish(subscriber, error);
        return;
      }
      if (subscriber.closed) return;
      if (history.unknownAfter) subscriber.last = null;
      if (history.reset) subscriber.sink.event(this.#options.resetEvent(groupId, subscriber.last));
      if (history.ended) {
        this.#finish(subscriber);
        return;
      }
      for (const event of history.events) {
        if (subscriber.closed) return;
        this.#options.observer?.delivered(event, false);
        subscriber.last = event.eventId;
        subscriber.sink.event(event);
        if (event.kind === 'finished') {
          this.#finish(subscriber);
          return;
        }
      }
      if (subscriber.closed) return;
      if (subscriber.overflowed) {
        subscriber.overflowed = false;
        subscriber.pending = [];
        continue;
      }
      const pending = subscriber.pending ?? [];
      // Live from here: nothing can arrive while the pending events are handed over (same turn).
      subscriber.pending = null;
      for (const event of pending) if (!this.#deliverLive(subscriber, event)) return;
      return;
    }
  }
}

const PLAIN_ID = /^[1-9]\d*$/;

/** `a > b` for event ids; plain sequence numbers (the common case) without `compareEventIds`' BigInt parsing. */
function isAfter(a: string, b: string): boolean {
  if (PLAIN_ID.test(a) && PLAIN_ID.test(b)) return a.length !== b.length ? a.length > b.length : a > b;
  return compareEventIds(a, b) > 0;
}
