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
  /** True when events after `after` were trimmed or expired: there is a gap. */
  readonly reset: boolean;
};

export type LiveListener = (event: StoredEvent) => void;

/**
 * Where stream events and item values live. The engine (`Stream`) validates
 * data and orders subscriptions; implementations only store and fan out.
 * In memory by default, on Redis when configured.
 */
export interface StreamStorage {
  /** Appends one event to the group's log, updates the item's value and notifies live listeners. */
  append(input: AppendInput): Promise<StoredEvent>;
  /** Events of the group after `after` (all when null), oldest first. */
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
