import {
  isReplay,
  type AppendInput,
  type EphemeralInput,
  type HistoryRead,
  type LatestRead,
  type LiveListener,
  type StoredEvent,
  type StoredKind,
  type WorkflowLogStorage,
} from '../streams/storage.js';
import type { WorkflowTracing } from './hooks.js';
import type { StreamStats } from './stream-stats.js';
import type { TraceStore } from '../traces/trace-store.js';

/** Groups whose last write id is remembered (to tell idempotent replays apart); the oldest are forgotten. */
const MAX_TRACKED_GROUPS = 10_000;

/**
 * A stream storage that counts and traces every write: each new event
 * becomes a `stream_write` entry of the trace its group belongs to (a
 * workflow's group id is its trace id), and an event of the current span
 * when spans are exported. An idempotent replay, which stores nothing,
 * records nothing. Subscriptions are counted by the fan-out,
 * which holds one listener per watched workflow whatever its subscribers.
 */
export class ObservedStreamStorage implements WorkflowLogStorage {
  readonly #inner: WorkflowLogStorage;
  readonly #traces: TraceStore;
  readonly #stats: StreamStats;
  readonly #tracing: WorkflowTracing | null;
  readonly #lastWrite = new Map<string, string>();

  constructor(
    inner: WorkflowLogStorage,
    traces: TraceStore,
    stats: StreamStats,
    tracing: WorkflowTracing | null = null,
  ) {
    this.#inner = inner;
    this.#traces = traces;
    this.#stats = stats;
    this.#tracing = tracing;
  }

  async append(input: AppendInput): Promise<StoredEvent> {
    return this.#recorded(input, await this.#inner.append(input));
  }

  async appendIfCurrent(input: AppendInput, currentEventId: string | null): Promise<StoredEvent | null> {
    const event = await this.#inner.appendIfCurrent(input, currentEventId);
    return event && this.#recorded(input, event);
  }

  send(event: EphemeralInput): Promise<void> {
    return this.#inner.send(event);
  }

  /** Counts and traces `event`, the answer to `input`, unless it stored nothing new. */
  #recorded(input: AppendInput, event: StoredEvent): StoredEvent {
    // Only a keyed write can be a replay; storage tells one even when another instance wrote the first copy.
    if (input.idempotencyKey === undefined || (!isReplay(event) && this.#isNew(event))) {
      this.#stats.written(event.stream);
      this.#traces.record(
        event.groupId,
        {
          kind: 'stream_write',
          stream: event.stream,
          eventId: event.eventId,
          itemId: event.itemId,
          eventKind: storedKind(event.kind),
          data: event.data,
        },
        event.time,
      );
      this.#tracing?.written(event);
    }
    return event;
  }

  readAfter(groupId: string, after: string | null): Promise<HistoryRead> {
    return this.#inner.readAfter(groupId, after);
  }

  readLatest(groupId: string): Promise<LatestRead> {
    return this.#inner.readLatest(groupId);
  }

  getItem(groupId: string, stream: string, itemId: string): Promise<StoredEvent | null> {
    return this.#inner.getItem(groupId, stream, itemId);
  }

  getGroup(groupId: string, stream: string): Promise<StoredEvent[]> {
    return this.#inner.getGroup(groupId, stream);
  }

  listen(groupId: string, listener: LiveListener): () => void {
    return this.#inner.listen(groupId, listener);
  }

  listenerCount(): number {
    return this.#inner.listenerCount();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** Appends to one group resolve in id order, so an id at or below the last one seen is a replay. */
  #isNew(event: StoredEvent): boolean {
    // One log per workflow: its ids grow across all of its streams.
    const key = event.groupId;
    const last = this.#lastWrite.get(key);
    if (last !== undefined && !isAfter(event.eventId, last)) return false;
    this.#lastWrite.set(key, event.eventId);
    if (this.#lastWrite.size > MAX_TRACKED_GROUPS) {
      const oldest = this.#lastWrite.keys().next();
      if (!oldest.done) this.#lastWrite.delete(oldest.value);
    }
    return true;
  }
}

/**
 * `a > b` for event ids (`<n>` or `<n>-<m>`, decimal, no leading zeros), by
 * length then text: the write path avoids `compareEventIds`' BigInt parsing.
 */
function isAfter(a: string, b: string): boolean {
  const aDash = a.indexOf('-');
  const bDash = b.indexOf('-');
  const aMajor = aDash < 0 ? a : a.slice(0, aDash);
  const bMajor = bDash < 0 ? b : b.slice(0, bDash);
  if (aMajor !== bMajor)
    return aMajor.length !== bMajor.length ? aMajor.length > bMajor.length : aMajor > bMajor;
  const aMinor = aDash < 0 ? '0' : a.slice(aDash + 1);
  const bMinor = bDash < 0 ? '0' : b.slice(bDash + 1);
  return aMinor.length !== bMinor.length ? aMinor.length > bMinor.length : aMinor > bMinor;
}

/** What `append` returned is stored: only the delivery-only kinds are mapped, to the write they stand for. */
function storedKind(kind: StoredEvent['kind']): StoredKind {
  return kind === 'reset' || kind === 'ephemeral' ? 'set' : kind;
}
