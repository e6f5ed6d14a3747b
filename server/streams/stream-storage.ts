import type { StreamEvent, StreamEventKind } from '../../shared/stream-event.js';

export type StoredEvent = StreamEvent<unknown>;

export type AppendInput = {
  readonly stream: string;
  readonly groupId: string;
  readonly itemId: string;
  readonly kind: Exclude<StreamEventKind, 'reset'>;
  readonly data: unknown;
  /**
   * Makes the write idempotent: a second append with the same key in the same
   * group stores nothing and returns the event the first one stored. Steps
   * that are retried use it so that a retry never repeats an event.
   */
  readonly idempotencyKey?: string;
};

export type HistoryRead = {
  readonly events: readonly StoredEvent[];
  /** True when events after `after` were trimmed or expired, or `after` is unknown (below): there is a gap. */
  readonly reset: boolean;
  /**
   * True when `after` is no position of the group's log: past its newest
   * event, or, on Redis, an id inside the kept log that the group never gave
   * out (another group's). `events` is then the whole kept log and `reset` is
   * true: the reader starts again from the beginning.
   */
  readonly unknownAfter?: boolean;
  /** True when the group finished at or before `after`: nothing follows, and `events` is empty. */
  readonly ended?: boolean;
};

/**
 * Called with each live event of a group. A `reset` event (never appended)
 * says the group's log is gone while it was being listened to (evicted, or
 * lost by the storage, e.g. Redis restarted without its data): nothing more
 * comes through this listener.
 */
export type LiveListener = (event: StoredEvent) => void;

/**
 * Where stream events and item values live. The engine (`Stream`) validates
 * data and orders subscriptions; implementations only store and fan out.
 * In memory by default, on Redis when configured.
 */
export interface StreamStorage {
  /** Appends one event to the group's log, updates the item's value and notifies live listeners. */
  append(input: AppendInput): Promise<StoredEvent>;
  /** Events of the group after `after` (all when null), oldest first; see HistoryRead. */
  readAfter(stream: string, groupId: string, after: string | null): Promise<HistoryRead>;
  /** The current value of an item, as the event that set it. */
  getItem(stream: string, groupId: string, itemId: string): Promise<StoredEvent | null>;
  /** Current values of every item of the group, in the order they were first set. */
  getGroup(stream: string, groupId: string): Promise<StoredEvent[]>;
  /** Live events of the group, from now on. Returns the unsubscribe function. */
  listen(stream: string, groupId: string, listener: LiveListener): () => void;
  /** How many live listeners there are (for leak checks and metrics). */
  listenerCount(): number;
  close(): Promise<void>;
}
