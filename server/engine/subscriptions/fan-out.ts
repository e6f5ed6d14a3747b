/**
 * Delivery of workflow logs to many subscribers: one storage listener per
 * watched workflow on this process, whatever the number of subscribers and
 * the streams they watch, and each event handed to every subscriber in the
 * same call. Each subscriber joins before its history is read (subscribe,
 * then replay: what is written meanwhile waits in its pending buffer and the
 * id check drops the overlap), then gets the events of its streams after its
 * resume point, each once and in order: a `reset` event first when part of
 * that history is gone, or when the resume point is unknown; the `finished`
 * event passes every stream filter and ends the subscription; a log that
 * disappears gives a `reset`, then StreamGroupLost. A latest-only
 * subscriber without a resume point reads each item's current value
 * instead of the history, then goes live the same way. Ephemeral events reach
 * the subscribers that are live when they come, and are never replayed.
 * This is the only
 * subscribe-then-replay of the engine: pulled subscriptions, pushed ones and
 * `onFinished` all go through it.
 */
import { compareEventIds, isEndKind } from '../../../shared/stream-event.js';
import type { StreamObserver } from '../observability/hooks.js';
import { StreamGroupLost } from '../streams/group-lost.js';
import type { StoredEvent, WorkflowLogStorage } from '../streams/storage.js';

/** Where one subscriber's events go. */
export type FanOutSink = {
  /**
   * One event, in order; called synchronously, so it must not wait. `live`
   * is false for what was read from storage (history, resets): that comes
   * in one burst, as long as the kept history, and is no sign of a slow reader.
   */
  readonly event: (event: StoredEvent, live: boolean) => void;
  /** The subscription ended: after the `finished` event (no error), or failed (history read, log lost). */
  readonly end: (error?: unknown) => void;
};

export type FanOutSubscription = {
  /** Resume after this event id; from the start of the log when null. */
  readonly after: string | null;
  /**
   * The streams this subscriber gets; the `finished` event comes whatever
   * its stream. Empty: the `finished` event alone.
   */
  readonly streams: readonly string[];
  /** The stream named by the `reset` events this subscriber gets. */
  readonly resetStream: string;
  /** Counted in the delivery metrics. @default true */
  readonly observed?: boolean;
  /**
   * `latest`: without a resume point (`after` null), each item's current
   * value once instead of the whole history, then live events. A resume
   * point always resumes the log after it. @default 'start'
   */
  readonly from?: 'start' | 'latest';
};

export type WorkflowFanOutOptions = {
  readonly storage: WorkflowLogStorage;
  /** Live events a subscriber may collect while its history is read; beyond, it reads history again. */
  readonly bufferLimit: number;
  readonly observer?: StreamObserver | undefined;
};

type Subscriber = {
  readonly sink: FanOutSink;
  readonly streams: ReadonlySet<string>;
  readonly resetStream: string;
  readonly observer: StreamObserver | undefined;
  last: string | null;
  /** Its first read is of current values rather than history (see FanOutSubscription.from). */
  latest: boolean;
  /** Live events that came while history was being read; null once live. */
  pending: StoredEvent[] | null;
  overflowed: boolean;
  closed: boolean;
  /** Leaves the workflow (set once joined). */
  leave: () => void;
};

type Watched = {
  readonly subscribers: Set<Subscriber>;
  readonly unlisten: () => void;
};

export class WorkflowFanOut {
  readonly #options: WorkflowFanOutOptions;
  readonly #watched = new Map<string, Watched>();

  constructor(options: WorkflowFanOutOptions) {
    if (!Number.isInteger(options.bufferLimit) || options.bufferLimit < 1) {
      throw new TypeError(`Expected \`bufferLimit\` to be an integer >= 1, got \`${options.bufferLimit}\``);
    }
    this.#options = options;
  }

  /** Workflows with a live listener (for leak checks). */
  get groupCount(): number {
    return this.#watched.size;
  }

  /**
   * Starts delivering the workflow's events after `after` to `sink`.
   * Returns the function that stops it (safe to call twice; `end` is not called).
   */
  subscribe(groupId: string, subscription: FanOutSubscription, sink: FanOutSink): () => void {
    const watched = this.#watched.get(groupId) ?? this.#watch(groupId);
    const observer = subscription.observed === false ? undefined : this.#options.observer;
    const subscriber: Subscriber = {
      sink,
      streams: new Set(subscription.streams),
      resetStream: subscription.resetStream,
      observer,
      last: subscription.after,
      latest: subscription.from === 'latest' && subscription.after === null,
      pending: [],
      overflowed: false,
      closed: false,
      leave: () => this.#leave(groupId, watched, subscriber),
    };
    // Joins before history is read: an event written during the read is
    // then pending, and the id check drops any overlap.
    watched.subscribers.add(subscriber);
    if (observer?.subscribed) for (const stream of subscriber.streams) observer.subscribed(stream);
    void this.#catchUp(groupId, subscriber);
    return subscriber.leave;
  }

  #watch(groupId: string): Watched {
    const subscribers = new Set<Subscriber>();
    const unlisten = this.#options.storage.listen(groupId, (event) => {
      if (event.kind === 'reset') {
        for (const subscriber of subscribers) this.#lose(groupId, subscriber);
        return;
      }
      if (event.kind === 'ephemeral') {
        deliverEphemeral(subscribers, event);
        return;
      }
      for (const subscriber of subscribers) this.#onLive(subscriber, event);
    });
    const watched: Watched = { subscribers, unlisten };
    this.#watched.set(groupId, watched);
    return watched;
  }

  #leave(groupId: string, watched: Watched, subscriber: Subscriber): void {
    if (subscriber.closed) return;
    subscriber.closed = true;
    subscriber.pending = null;
    watched.subscribers.delete(subscriber);
    const { observer } = subscriber;
    if (observer?.unsubscribed) for (const stream of subscriber.streams) observer.unsubscribed(stream);
    if (watched.subscribers.size > 0 || this.#watched.get(groupId) !== watched) return;
    this.#watched.delete(groupId);
    watched.unlisten();
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

  /** Delivers a live event unless already delivered or filtered out; false once the subscription ended. */
  #deliverLive(subscriber: Subscriber, event: StoredEvent): boolean {
    if (subscriber.last !== null && !isAfter(event.eventId, subscriber.last)) return true;
    subscriber.last = event.eventId;
    if (!wants(subscriber, event)) return true;
    subscriber.observer?.delivered(event, true);
    subscriber.sink.event(event, true);
    if (!isEndKind(event.kind)) return !subscriber.closed;
    this.#finish(subscriber);
    return false;
  }

  /** The log is gone: a `reset`, then the end with StreamGroupLost. */
  #lose(groupId: string, subscriber: Subscriber): void {
    if (subscriber.closed) return;
    subscriber.sink.event(resetEvent(groupId, subscriber.last, subscriber.resetStream), false);
    this.#finish(subscriber, new StreamGroupLost(groupId));
  }

  #finish(subscriber: Subscriber, error?: unknown): void {
    if (subscriber.closed) return;
    // Leaving first: the sink's end may subscribe again.
    subscriber.leave();
    subscriber.sink.end(error);
  }

  async #catchUp(groupId: string, subscriber: Subscriber): Promise<void> {
    while (!subscriber.closed) {
      let open;
      try {
        open = subscriber.latest
          ? await this.#replayLatest(groupId, subscriber)
          : await this.#replayHistory(groupId, subscriber);
      } catch (error) {
        this.#finish(subscriber, error);
        return;
      }
      if (!open || subscriber.closed) return;
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

  /** The log after the subscriber's position, read from storage; false once the subscription has ended. */
  async #replayHistory(groupId: string, subscriber: Subscriber): Promise<boolean> {
    const history = await this.#options.storage.readAfter(groupId, subscriber.last);
    if (subscriber.closed) return false;
    if (history.unknownAfter) subscriber.last = null;
    if (history.reset) {
      subscriber.sink.event(resetEvent(groupId, subscriber.last, subscriber.resetStream), false);
    }
    if (history.ended) {
      this.#finish(subscriber);
      return false;
    }
    for (const event of history.events) {
      if (subscriber.closed) return false;
      subscriber.last = event.eventId;
      if (!this.#deliverRead(subscriber, event)) return false;
    }
    return true;
  }

  /**
   * For a latest-only subscriber's first read: each item's current value
   * once (in log order), the workflow's last event if it has ended, and the
   * position they reflect, after which the live events follow.
   */
  async #replayLatest(groupId: string, subscriber: Subscriber): Promise<boolean> {
    subscriber.latest = false;
    const latest = await this.#options.storage.readLatest(groupId);
    if (subscriber.closed) return false;
    for (const event of latest.events) {
      if (subscriber.closed) return false;
      if (!this.#deliverRead(subscriber, event)) return false;
    }
    subscriber.last = latest.position;
    return latest.end === null || this.#deliverRead(subscriber, latest.end);
  }

  /** Delivers an event read from storage unless filtered out; false once the subscription has ended. */
  #deliverRead(subscriber: Subscriber, event: StoredEvent): boolean {
    if (!wants(subscriber, event)) return true;
    subscriber.observer?.delivered(event, false);
    subscriber.sink.event(event, false);
    if (!isEndKind(event.kind)) return !subscriber.closed;
    this.#finish(subscriber);
    return false;
  }
}

/**
 * An ephemeral event goes to the subscribers of its stream that are live
 * now (not to one still reading history: it would come out of order), each
 * with its own position as the id, so a resume after it loses nothing.
 */
function deliverEphemeral(subscribers: ReadonlySet<Subscriber>, event: StoredEvent): void {
  let delivered = null as StoredEvent | null;
  for (const subscriber of subscribers) {
    if (subscriber.closed || subscriber.pending !== null || !subscriber.streams.has(event.stream)) continue;
    const eventId = subscriber.last ?? '0';
    // Subscribers at the same position share one object (serialised once).
    if (delivered?.eventId !== eventId) delivered = { ...event, eventId };
    subscriber.sink.event(delivered, true);
  }
}

/** The workflow's last event (`finished` or `cancelled`) passes every filter: it ends every subscription. */
function wants(subscriber: Subscriber, event: StoredEvent): boolean {
  return isEndKind(event.kind) || subscriber.streams.has(event.stream);
}

/**
 * The event that tells a resuming subscriber its history is gone (trimmed,
 * expired, or the log lost). It carries the id it resumed from (`0` for the
 * start), so resuming after it asks for the same point again.
 */
export function resetEvent(groupId: string, after: string | null, stream: string): StoredEvent {
  return {
    eventId: after ?? '0',
    stream,
    groupId,
    itemId: 'history',
    kind: 'reset',
    data: null,
    time: new Date().toISOString(),
  };
}

const PLAIN_ID = /^[1-9]\d*$/;

/** `a > b` for event ids; plain sequence numbers (the common case) without `compareEventIds`' BigInt parsing. */
function isAfter(a: string, b: string): boolean {
  if (PLAIN_ID.test(a) && PLAIN_ID.test(b)) return a.length !== b.length ? a.length > b.length : a > b;
  return compareEventIds(a, b) > 0;
}
