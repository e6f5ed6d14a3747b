import { EventEmitter } from 'eventemitter3';

import { compareEventIds, isEndKind } from '../../../shared/stream-event.js';
import { jsonSize, MemoryRetention } from '../backends/memory-retention.js';
import { groupLostEvent } from './group-lost.js';
import {
  replayed,
  stored,
  type AppendInput,
  type EphemeralInput,
  type HistoryRead,
  type LatestRead,
  type LiveListener,
  type StoredEvent,
  type WorkflowLogStorage,
} from './storage.js';

export type MemoryStorageOptions = {
  /** Events kept per workflow log (all its streams together); older ones are trimmed. */
  readonly historyLimit: number;
  /** How long a finished workflow's log is kept, in ms (used when no `retention` is given). */
  readonly retentionMs: number;
  /**
   * Decides when a finished workflow's log goes (time, count and size
   * bounds), shared with the other memory stores; one with the time bound
   * alone when absent. A log finishes with its `finished` event; group ids
   * are the retention's workflow ids.
   */
  readonly retention?: MemoryRetention;
  readonly now?: () => Date;
};

type Log = {
  seq: number;
  /** Id of the newest trimmed event, or null when nothing was trimmed. */
  trimmedThrough: string | null;
  readonly events: StoredEvent[];
  /** `<stream>\0<item id>` → the event that set the item's current value. */
  readonly items: Map<string, StoredEvent>;
  /** Null once the workflow has ended: no step retries a write after that. */
  idempotency: Map<string, StoredEvent> | null;
  /** The workflow's last event (`finished` or `cancelled`), once written. */
  finished: { readonly event: StoredEvent; readonly key: string | undefined } | null;
};

/**
 * The embedded default: one ordered log per workflow in process memory. A
 * finished log forgets its idempotency keys (all but the one its finished
 * event was written with), and is dropped as its retention decides.
 */
export class MemoryWorkflowLogStorage implements WorkflowLogStorage {
  readonly #logs = new Map<string, Log>();
  readonly #live = new EventEmitter<Record<string, [StoredEvent]>>();
  readonly #options: MemoryStorageOptions;
  readonly #retention: MemoryRetention;
  readonly #ownsRetention: boolean;
  readonly #stopDropping: () => void;
  readonly #now: () => Date;

  constructor(options: MemoryStorageOptions) {
    if (!Number.isInteger(options.historyLimit) || options.historyLimit < 1) {
      throw new TypeError(`Expected \`historyLimit\` to be an integer >= 1, got \`${options.historyLimit}\``);
    }
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#ownsRetention = options.retention === undefined;
    this.#retention = options.retention ?? new MemoryRetention({ retentionMs: options.retentionMs });
    this.#stopDropping = this.#retention.onDrop((groupId) => this.#drop(groupId));
  }

  async append(input: AppendInput): Promise<StoredEvent> {
    return stored(this.#append(input, null));
  }

  async appendIfCurrent(input: AppendInput, currentEventId: string | null): Promise<StoredEvent | null> {
    return this.#append(input, { currentEventId });
  }

  async send(event: EphemeralInput): Promise<void> {
    // Ids are the fan-out's to give (each subscriber's position): none here.
    this.#live.emit(event.groupId, { ...event, eventId: '' });
  }

  /** Synchronous from the check to the store: nothing else runs in between. */
  #append(
    input: AppendInput,
    condition: { readonly currentEventId: string | null } | null,
  ): StoredEvent | null {
    const log = this.#logs.get(input.groupId) ?? this.#newLog(input.groupId);
    const key = input.idempotencyKey;
    if (key !== undefined) {
      const earlier = log.idempotency?.get(key);
      // A copy is marked: the stored event itself was a new write.
      if (earlier) return replayed({ ...earlier });
      if (log.finished?.key === key) return replayed({ ...log.finished.event });
    }
    const item = itemKey(input.stream, input.itemId);
    if (condition && (log.items.get(item)?.eventId ?? null) !== condition.currentEventId) return null;
    log.seq += 1;
    const event: StoredEvent = {
      eventId: String(log.seq),
      stream: input.stream,
      groupId: input.groupId,
      itemId: input.itemId,
      kind: input.kind,
      data: input.data,
      time: this.#now().toISOString(),
    };
    let size = jsonSize(input.data);
    log.events.push(event);
    if (log.events.length > this.#options.historyLimit) {
      const dropped = log.events.shift();
      if (dropped) {
        log.trimmedThrough = dropped.eventId;
        size -= jsonSize(dropped.data);
      }
    }
    if (input.kind === 'set') log.items.set(item, event);
    if (input.kind === 'delete') log.items.delete(item);
    if (key !== undefined) log.idempotency?.set(key, event);
    if (isEndKind(input.kind) && !log.finished) {
      log.finished = { event, key };
      log.idempotency = null;
    }
    this.#live.emit(input.groupId, event);
    // Last: accounting may drop logs, this one included when it alone is over the bounds.
    this.#retention.grow(input.groupId, size);
    if (isEndKind(input.kind)) this.#retention.finish(input.groupId);
    return event;
  }

  async readAfter(groupId: string, after: string | null): Promise<HistoryRead> {
    const log = this.#logs.get(groupId);
    if (!log) return { events: [], reset: after !== null && after !== '0' };
    if (after !== null && compareEventIds(after, String(log.seq)) > 0) {
      return { events: [...log.events], reset: true, unknownAfter: true };
    }
    if (after !== null && log.finished && compareEventIds(after, log.finished.event.eventId) >= 0) {
      return { events: [], reset: false, ended: true };
    }
    const events =
      after === null ? log.events : log.events.filter((e) => compareEventIds(e.eventId, after) > 0);
    const reset =
      log.trimmedThrough !== null && (after === null || compareEventIds(after, log.trimmedThrough) < 0);
    return { events: [...events], reset };
  }

  async readLatest(groupId: string): Promise<LatestRead> {
    const log = this.#logs.get(groupId);
    if (!log) return { events: [], position: null, end: null };
    const events = [...log.items.values()].sort((a, b) => compareEventIds(a.eventId, b.eventId));
    return { events, position: log.seq === 0 ? null : String(log.seq), end: log.finished?.event ?? null };
  }

  async getItem(groupId: string, stream: string, itemId: string): Promise<StoredEvent | null> {
    return this.#logs.get(groupId)?.items.get(itemKey(stream, itemId)) ?? null;
  }

  async getGroup(groupId: string, stream: string): Promise<StoredEvent[]> {
    const items = this.#logs.get(groupId)?.items.values() ?? [];
    return [...items].filter((event) => event.stream === stream);
  }

  listen(groupId: string, listener: LiveListener): () => void {
    this.#live.on(groupId, listener);
    return () => this.#live.off(groupId, listener);
  }

  listenerCount(): number {
    return this.#live.eventNames().reduce((sum, name) => sum + this.#live.listenerCount(name), 0);
  }

  async close(): Promise<void> {
    this.#stopDropping();
    if (this.#ownsRetention) this.#retention.close();
    this.#logs.clear();
    this.#live.removeAllListeners();
  }

  #newLog(groupId: string): Log {
    const log: Log = {
      seq: 0,
      trimmedThrough: null,
      events: [],
      items: new Map(),
      idempotency: new Map(),
      finished: null,
    };
    this.#logs.set(groupId, log);
    return log;
  }

  /** Drops the workflow's log; whoever still listens to it is told it is gone. */
  #drop(groupId: string): void {
    if (!this.#logs.delete(groupId)) return;
    if (this.#live.listenerCount(groupId) === 0) return;
    this.#live.emit(groupId, groupLostEvent(groupId, this.#now()));
    this.#live.removeAllListeners(groupId);
  }
}

/** Item ids are free text, stream names are one word: a NUL between them keeps the pairs apart. */
const itemKey = (stream: string, itemId: string) => `${stream}\u0000${itemId}`;
