import { EventEmitter } from 'eventemitter3';

import { compareEventIds } from '../../shared/stream-event.js';
import type { AppendInput, HistoryRead, LiveListener, StoredEvent, StreamStorage } from './stream-storage.js';

export type MemoryStreamStorageOptions = {
  /** Events kept per group; older ones are trimmed. */
  readonly historyLimit: number;
  /** How long a finished group is kept, in ms. */
  readonly retentionMs: number;
  readonly now?: () => Date;
};

type Group = {
  seq: number;
  /** Id of the newest trimmed event, or null when nothing was trimmed. */
  trimmedThrough: string | null;
  readonly events: StoredEvent[];
  readonly items: Map<string, StoredEvent>;
  readonly idempotency: Map<string, StoredEvent>;
  expiry?: NodeJS.Timeout;
};

/** The embedded default: an ordered log per group in process memory. */
export class MemoryStreamStorage implements StreamStorage {
  readonly #groups = new Map<string, Group>();
  readonly #live = new EventEmitter<Record<string, [StoredEvent]>>();
  readonly #options: MemoryStreamStorageOptions;
  readonly #now: () => Date;

  constructor(options: MemoryStreamStorageOptions) {
    if (!Number.isInteger(options.historyLimit) || options.historyLimit < 1) {
      throw new TypeError(`Expected \`historyLimit\` to be an integer >= 1, got \`${options.historyLimit}\``);
    }
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  async append(input: AppendInput): Promise<StoredEvent> {
    const key = groupKey(input.stream, input.groupId);
    const group = this.#groups.get(key) ?? this.#newGroup(key);
    if (input.idempotencyKey !== undefined) {
      const earlier = group.idempotency.get(input.idempotencyKey);
      if (earlier) return earlier;
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
    group.events.push(event);
    if (group.events.length > this.#options.historyLimit) {
      const dropped = group.events.shift();
      if (dropped) group.trimmedThrough = dropped.eventId;
    }
    if (input.kind === 'set') group.items.set(input.itemId, event);
    if (input.kind === 'delete') group.items.delete(input.itemId);
    if (input.idempotencyKey !== undefined) group.idempotency.set(input.idempotencyKey, event);
    if (input.kind === 'finished') this.#expireLater(key, group);
    this.#live.emit(key, event);
    return event;
  }

  async readAfter(stream: string, groupId: string, after: string | null): Promise<HistoryRead> {
    const group = this.#groups.get(groupKey(stream, groupId));
    if (!group) return { events: [], reset: after !== null && after !== '0' };
    const events =
      after === null ? group.events : group.events.filter((e) => compareEventIds(e.eventId, after) > 0);
    const reset =
      group.trimmedThrough !== null && (after === null || compareEventIds(after, group.trimmedThrough) < 0);
    return { events: [...events], reset };
  }

  async getItem(stream: string, groupId: string, itemId: string): Promise<StoredEvent | null> {
    return this.#groups.get(groupKey(stream, groupId))?.items.get(itemId) ?? null;
  }

  async getGroup(stream: string, groupId: string): Promise<StoredEvent[]> {
    return [...(this.#groups.get(groupKey(stream, groupId))?.items.values() ?? [])];
  }

  listen(stream: string, groupId: string, listener: LiveListener): () => void {
    const key = groupKey(stream, groupId);
    this.#live.on(key, listener);
    return () => this.#live.off(key, listener);
  }

  listenerCount(): number {
    return this.#live.eventNames().reduce((sum, name) => sum + this.#live.listenerCount(name), 0);
  }

  async close(): Promise<void> {
    for (const group of this.#groups.values()) clearTimeout(group.expiry);
    this.#groups.clear();
    this.#live.removeAllListeners();
  }

  #newGroup(key: string): Group {
    const group: Group = {
      seq: 0,
      trimmedThrough: null,
      events: [],
      items: new Map(),
      idempotency: new Map(),
    };
    this.#groups.set(key, group);
    return group;
  }

  #expireLater(key: string, group: Group): void {
    clearTimeout(group.expiry);
    group.expiry = setTimeout(() => this.#groups.delete(key), this.#options.retentionMs);
    group.expiry.unref();
  }
}

const groupKey = (stream: string, groupId: string) => `${stream}\u0000${groupId}`;
