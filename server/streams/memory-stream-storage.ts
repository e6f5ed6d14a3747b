import { EventEmitter } from 'eventemitter3';

import { compareEventIds } from '../../shared/stream-event.js';
import { jsonSize, MemoryRetention } from '../store/memory-retention.js';
import { groupLostEvent } from './group-lost.js';
import type { AppendInput, HistoryRead, LiveListener, StoredEvent, StreamStorage } from './stream-storage.js';

export type MemoryStreamStorageOptions = {
  /** Events kept per group; older ones are trimmed. */
  readonly historyLimit: number;
  /** How long a finished group is kept, in ms (used when no `retention` is given). */
  readonly retentionMs: number;
  /**
   * Decides when a finished group goes (time, count and size bounds),
   * shared with the other memory stores; one with the time bound alone when
   * absent. A group finishes with its `finished` event; group ids are the
   * retention's workflow ids.
   */
  readonly retention?: MemoryRetention;
  readonly now?: () => Date;
};

type Group = {
  seq: number;
  /** Id of the newest trimmed event, or null when nothing was trimmed. */
  trimmedThrough: string | null;
  readonly events: StoredEvent[];
  readonly items: Map<string, StoredEvent>;
  /** Null once the group has finished: no step retries a write after that. */
  idempotency: Map<string, StoredEvent> | null;
  finished: { readonly event: StoredEvent; readonly key: string | undefined } | null;
};

/**
 * The embedded default: an ordered log per group in process memory. A
 * finished group forgets its idempotency keys (all but the one its finished
 * event was written with), and is dropped as its retention decides.
 */
export class MemoryStreamStorage implements StreamStorage {
  /** Group id → stream name → group. */
  readonly #groups = new Map<string, Map<string, Group>>();
  readonly #live = new EventEmitter<Record<string, [StoredEvent]>>();
  readonly #options: MemoryStreamStorageOptions;
  readonly #retention: MemoryRetention;
  readonly #ownsRetention: boolean;
  readonly #stopDropping: () => void;
  readonly #now: () => Date;

  constructor(options: MemoryStreamStorageOptions) {
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
    const group = this.#group(input.stream, input.groupId) ?? this.#newGroup(input.stream, input.groupId);
    const key = input.idempotencyKey;
    if (key !== undefined) {
      const earlier = group.idempotency?.get(key);
      if (earlier) return earlier;
      if (group.finished?.key === key) return group.finished.event;
    }
    group.seq += 1;
    const event: StoredEvent = {
      eventId: String(group.seq),
      stream: input.stream,
      groupId: input.groupId,
      itemId: input.itemId,
      kind: input.kind,
      data: input.data,
      time: this.#now().toISOString(),
    };
    let size = jsonSize(input.data);
    group.events.push(event);
    if (group.events.length > this.#options.historyLimit) {
      const dropped = group.events.shift();
      if (dropped) {
        group.trimmedThrough = dropped.eventId;
        size -= jsonSize(dropped.data);
      }
    }
    if (input.kind === 'set') group.items.set(input.itemId, event);
    if (input.kind === 'delete') group.items.delete(input.itemId);
    if (key !== undefined) group.idempotency?.set(key, event);
    if (input.kind === 'finished' && !group.finished) {
      group.finished = { event, key };
      group.idempotency = null;
    }
    this.#live.emit(liveKey(input.stream, input.groupId), event);
    // Last: accounting may drop groups, this one included when it alone is over the bounds.
    this.#retention.grow(input.groupId, size);
    if (input.kind === 'finished') this.#retention.finish(input.groupId);
    return event;
  }

  async readAfter(stream: string, groupId: string, after: string | null): Promise<HistoryRead> {
    const group = this.#group(stream, groupId);
    if (!group) return { events: [], reset: after !== null && after !== '0' };
    if (after !== null && compareEventIds(after, String(group.seq)) > 0) {
      return { events: [...group.events], reset: true, unknownAfter: true };
    }
    if (after !== null && group.finished && compareEventIds(after, group.finished.event.eventId) >= 0) {
      return { events: [], reset: false, ended: true };
    }
    const events =
      after === null ? group.events : group.events.filter((e) => compareEventIds(e.eventId, after) > 0);
    const reset =
      group.trimmedThrough !== null && (after === null || compareEventIds(after, group.trimmedThrough) < 0);
    return { events: [...events], reset };
  }

  async getItem(stream: string, groupId: string, itemId: string): Promise<StoredEvent | null> {
    return this.#group(stream, groupId)?.items.get(itemId) ?? null;
  }

  async getGroup(stream: string, groupId: string): Promise<StoredEvent[]> {
    return [...(this.#group(stream, groupId)?.items.values() ?? [])];
  }

  listen(stream: string, groupId: string, listener: LiveListener): () => void {
    const key = liveKey(stream, groupId);
    this.#live.on(key, listener);
    return () => this.#live.off(key, listener);
  }

  listenerCount(): number {
    return this.#live.eventNames().reduce((sum, name) => sum + this.#live.listenerCount(name), 0);
  }

  async close(): Promise<void> {
    this.#stopDropping();
    if (this.#ownsRetention) this.#retention.close();
    this.#groups.clear();
    this.#live.removeAllListeners();
  }

  #group(stream: string, groupId: string): Group | undefined {
    return this.#groups.get(groupId)?.get(stream);
  }

  #newGroup(stream: string, groupId: string): Group {
    const group: Group = {
      seq: 0,
      trimmedThrough: null,
      events: [],
      items: new Map(),
      idempotency: new Map(),
      finished: null,
    };
    let streams = this.#groups.get(groupId);
    if (!streams) {
      streams = new Map();
      this.#groups.set(groupId, streams);
    }
    streams.set(stream, group);
    return group;
  }

  /** Drops every stream's group of `groupId`; whoever still listens to one is told it is gone. */
  #drop(groupId: string): void {
    const streams = this.#groups.get(groupId);
    if (!streams) return;
    this.#groups.delete(groupId);
    for (const stream of streams.keys()) {
      const key = liveKey(stream, groupId);
      if (this.#live.listenerCount(key) === 0) continue;
      this.#live.emit(key, groupLostEvent(stream, groupId, this.#now()));
      this.#live.removeAllListeners(key);
    }
  }
}

const liveKey = (stream: string, groupId: string) => `${stream}\u0000${groupId}`;
