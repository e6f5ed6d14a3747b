import { randomUUID } from 'node:crypto';

import type { Redis } from 'ioredis';
import { z } from 'zod';

import { compareEventIds, StreamEventKindSchema } from '../../shared/stream-event.js';
import type { Logger } from '../log.js';
import type { RedisKeys } from '../redis/keys.js';
import { whileReachable } from '../redis/storage-unavailable.js';
import { groupLostEvent } from './group-lost.js';
import { appendEventScript, readAfterScript, readGroupScript } from '../redis/stream-scripts.js';
import { parseEntries, StreamReader, type StreamEntry } from '../redis/stream-reader.js';
import type { AppendInput, HistoryRead, LiveListener, StoredEvent, StreamStorage } from './stream-storage.js';

export type RedisStreamStorageOptions = {
  /** For every short command. */
  readonly client: Redis;
  /** For the one blocking live read of this process; nothing else may use it. */
  readonly reader: Redis;
  readonly keys: RedisKeys;
  /** Events kept per group, at least (see `appendEventScript` on trimming). */
  readonly historyLimit: number;
  /** How long a finished group is kept, in ms. */
  readonly retentionMs: number;
  readonly log: Logger;
  readonly now?: () => Date;
};

const StoredBodySchema = z.object({
  stream: z.string(),
  groupId: z.string(),
  itemId: z.string(),
  kind: StreamEventKindSchema,
  data: z.unknown(),
  time: z.string(),
});
const StoredEventSchema = StoredBodySchema.extend({ eventId: z.string() });

/**
 * Stream groups on Redis: one Redis Stream per group (event ids are the
 * Redis ids, `<ms>-<seq>`, valid on every instance), current item values in
 * a hash, idempotent appends in one Lua script, and live delivery through
 * one shared blocking reader per process.
 */
export class RedisStreamStorage implements StreamStorage {
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #options: RedisStreamStorageOptions;
  readonly #reader: StreamReader;
  readonly #now: () => Date;

  constructor(options: RedisStreamStorageOptions) {
    if (!Number.isInteger(options.historyLimit) || options.historyLimit < 1) {
      throw new TypeError(`Expected \`historyLimit\` to be an integer >= 1, got \`${options.historyLimit}\``);
    }
    if (!Number.isInteger(options.retentionMs) || options.retentionMs < 0) {
      throw new TypeError(`Expected \`retentionMs\` to be an integer >= 0, got \`${options.retentionMs}\``);
    }
    this.#client = options.client;
    this.#keys = options.keys;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#reader = new StreamReader({
      reader: options.reader,
      commands: options.client,
      wakeKey: options.keys.readerWake(randomUUID()),
      log: options.log,
    });
  }

  async append(input: AppendInput): Promise<StoredEvent> {
    const keys = this.#keys.streamGroup(input.stream, input.groupId);
    const body = JSON.stringify({
      stream: input.stream,
      groupId: input.groupId,
      itemId: input.itemId,
      kind: input.kind,
      data: input.data ?? null,
      time: this.#now().toISOString(),
    });
    const reply = await whileReachable(() =>
      appendEventScript.run(
        this.#client,
        [keys.log, keys.items, keys.order, keys.idempotency, keys.meta],
        [
          input.idempotencyKey === undefined ? '0' : '1',
          input.idempotencyKey ?? '',
          input.itemId,
          input.kind,
          body,
          this.#options.historyLimit,
          this.#options.retentionMs,
        ],
      ),
    );
    return parseStoredEvent(reply);
  }

  async readAfter(stream: string, groupId: string, after: string | null): Promise<HistoryRead> {
    const { log, meta } = this.#keys.streamGroup(stream, groupId);
    // An id Redis cannot hold is past every entry: read from the start.
    const position = after === null || !isRedisId(after) ? '' : after;
    const reply = await whileReachable(() => readAfterScript.run(this.#client, [log, meta], [position]));
    if (!Array.isArray(reply)) return { events: [], reset: after !== null && after !== '0' };
    const [oldest] = parseEntries(reply[0]);
    const events = parseEntries(reply[1]).map(eventFromEntry);
    if (reply[2] === 1 || (after !== null && position === '')) {
      return { events, reset: true, unknownAfter: true };
    }
    // Groups written before the id was kept there hold '1'.
    const finished =
      typeof reply[3] === 'string' && reply[3] !== '1' && isRedisId(reply[3]) ? reply[3] : null;
    if (after !== null && finished !== null && compareEventIds(after, finished) >= 0) {
      return { events: [], reset: false, ended: true };
    }
    // The oldest kept entry names the newest trimmed one: a reader that had
    // not reached it has missed events.
    const previous = oldest?.fields['p'];
    const trimmedThrough = previous === undefined || previous === '' ? null : previous;
    const reset = trimmedThrough !== null && (after === null || compareEventIds(after, trimmedThrough) < 0);
    return { events, reset };
  }

  async getItem(stream: string, groupId: string, itemId: string): Promise<StoredEvent | null> {
    const { items } = this.#keys.streamGroup(stream, groupId);
    const json = await whileReachable(() => this.#client.hget(items, itemId));
    return json === null ? null : parseStoredEvent(json);
  }

  async getGroup(stream: string, groupId: string): Promise<StoredEvent[]> {
    const { items, order } = this.#keys.streamGroup(stream, groupId);
    const reply = await whileReachable(() => readGroupScript.run(this.#client, [items, order], []));
    return Array.isArray(reply) ? reply.map(parseStoredEvent) : [];
  }

  /**
   * Live events from a start position read right away on this storage's
   * command connection: every event appended after that read is delivered,
   * in order, once. Appends through this storage after `listen` returns, and
   * everything a later `readAfter` on it does not see, come after it.
   */
  listen(stream: string, groupId: string, listener: LiveListener): () => void {
    return this.#reader.listen(this.#keys.streamGroup(stream, groupId).log, {
      entry: (entry) => listener(eventFromEntry(entry)),
      lost: () => listener(groupLostEvent(stream, groupId, this.#now())),
    });
  }

  listenerCount(): number {
    return this.#reader.listenerCount();
  }

  /** Stops the live reader; the connections belong to the caller. */
  async close(): Promise<void> {
    this.#reader.close();
  }
}

function parseStoredEvent(json: unknown): StoredEvent {
  if (typeof json !== 'string') throw new TypeError('Expected a stored stream event');
  const event = StoredEventSchema.parse(JSON.parse(json));
  return { ...event, data: event.data ?? null };
}

const MAX_ID_PART = 2n ** 64n - 1n;

/** `<ms>` or `<ms>-<seq>`, each below 2^64 - 1: a stream id Redis can also read past. */
function isRedisId(id: string): boolean {
  const match = /^(\d{1,20})(?:-(\d{1,20}))?$/.exec(id);
  if (!match) return false;
  return BigInt(match[1] ?? '0') < MAX_ID_PART && BigInt(match[2] ?? '0') < MAX_ID_PART;
}

function eventFromEntry(entry: StreamEntry): StoredEvent {
  const body = StoredBodySchema.parse(JSON.parse(entry.fields['e'] ?? 'null'));
  return { eventId: entry.id, ...body, data: body.data ?? null };
}
