import type { StreamEvent, StreamEventKind } from '../../../shared/stream-event.js';

export type StoredEvent = StreamEvent<unknown>;

/** The kinds a log stores: `reset` and `ephemeral` events are made for delivery only. */
export type StoredKind = Exclude<StreamEventKind, 'reset' | 'ephemeral'>;

export type AppendInput = {
  /** The workflow's trace id: every stream of a workflow writes to this one log. */
  readonly groupId: string;
  readonly stream: string;
  readonly itemId: string;
  readonly kind: StoredKind;
  readonly data: unknown;
  /**
   * Makes the write idempotent: a second append with the same key in the same
   * workflow stores nothing and returns the event the first one stored. Steps
   * that are retried use it so that a retry never repeats an event.
   */
  readonly idempotencyKey?: string | undefined;
};

/** An event pushed to live subscribers only (see WorkflowLogStorage.send). */
export type EphemeralInput = Omit<StoredEvent, 'eventId' | 'kind'> & { readonly kind: 'ephemeral' };

/** Events that an idempotent `append` returned without storing anything. */
const replays = new WeakSet<StoredEvent>();

/** Marks `event` as the answer of an append that stored nothing (its key was used); returns it. */
export function replayed(event: StoredEvent): StoredEvent {
  replays.add(event);
  return event;
}

/**
 * True when `append` returned `event` for a write it had already stored (a
 * retry, on this instance or another): nothing new is in the log.
 */
export function isReplay(event: StoredEvent): boolean {
  return replays.has(event);
}

export type HistoryRead = {
  /** Events of every stream, in log order. */
  readonly events: readonly StoredEvent[];
  /** True when events after `after` were trimmed or expired, or `after` is unknown (below): there is a gap. */
  readonly reset: boolean;
  /**
   * True when `after` is no position of the workflow's log: past its newest
   * event, or, on Redis, an id inside the kept log that the log never gave
   * out (another workflow's). `events` is then the whole kept log and
   * `reset` is true: the reader starts again from the beginning.
   */
  readonly unknownAfter?: boolean;
  /** True when the workflow finished at or before `after`: nothing follows, and `events` is empty. */
  readonly ended?: boolean;
};

/** A workflow's current state rather than its history (for latest-only subscribers). */
export type LatestRead = {
  /** The current value of every item of every stream, as the events that set them, in log order. */
  readonly events: readonly StoredEvent[];
  /** The id of the log's newest event when they were read: what follows it is live (null: an empty or unknown log). */
  readonly position: string | null;
  /** The workflow's last event (`finished` or `cancelled`), once it has ended. */
  readonly end: StoredEvent | null;
};

/**
 * Called with each live event of a workflow's log. A `reset` event (never
 * appended) says the log is gone while it was being listened to (evicted,
 * or lost by the storage, e.g. Redis restarted without its data): nothing
 * more comes through this listener.
 */
export type LiveListener = (event: StoredEvent) => void;

/**
 * Where workflow logs live: one ordered log per workflow (its group id is
 * its trace id) across all of its streams, with the current value of each
 * item keyed by (stream, item id). Event ids are monotonic per workflow.
 * The engine validates data and orders subscriptions; implementations only
 * store and notify. In memory by default, on Redis when configured.
 */
export interface WorkflowLogStorage {
  /** Appends one event to the workflow's log, updates the item's value and notifies live listeners. */
  append(input: AppendInput): Promise<StoredEvent>;
  /**
   * As `append`, atomically, only while the item's current value is the
   * event `currentEventId` (null: the item has none); otherwise stores
   * nothing and returns null. An idempotency key already used returns its
   * event whatever the item's value (a retried write is not redone).
   */
  appendIfCurrent(input: AppendInput, currentEventId: string | null): Promise<StoredEvent | null>;
  /**
   * Hands `event` to the live listeners of its workflow, on every instance,
   * as an `ephemeral` event; nothing is stored. Its `eventId` is left to
   * the fan-out (each subscriber's own position).
   */
  send(event: EphemeralInput): Promise<void>;
  /** Events of the workflow after `after` (all when null), oldest first, every stream; see HistoryRead. */
  readAfter(groupId: string, after: string | null): Promise<HistoryRead>;
  /** Every item's current value and the log position they reflect, in one consistent read; see LatestRead. */
  readLatest(groupId: string): Promise<LatestRead>;
  /** The current value of an item of one stream, as the event that set it. */
  getItem(groupId: string, stream: string, itemId: string): Promise<StoredEvent | null>;
  /** Current values of every item of one stream of the workflow, in the order they were first set. */
  getGroup(groupId: string, stream: string): Promise<StoredEvent[]>;
  /** Live events of the workflow's log (every stream), from now on. Returns the unsubscribe function. */
  listen(groupId: string, listener: LiveListener): () => void;
  /** How many live listeners there are (for leak checks). */
  listenerCount(): number;
  close(): Promise<void>;
}

/** The answer of an append made without a condition: always an event (stored, or replayed). */
export function stored(event: StoredEvent | null): StoredEvent {
  if (event === null) throw new TypeError('An unconditional append stored nothing');
  return event;
}
