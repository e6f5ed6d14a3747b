import type { Redis } from 'ioredis';
import { z } from 'zod';

import { compareEventIds, StreamEventKindSchema } from '../../../shared/stream-event.js';
import type { RedisChannels } from '../backends/redis/channels.js';
import type { RedisKeys } from '../backends/redis/keys.js';
import { whileReachable } from '../backends/redis/storage-unavailable.js';
import { parseEntries, type StreamEntry, type StreamReader } from '../backends/redis/stream-reader.js';
import { groupLostEvent } from './group-lost.js';
import { appendEventScript, readAfterScript, readGroupScript, readLatestScript } from './redis-scripts.js';
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

export type RedisStorageOptions = {
  /**
   * For every short command: the same connection `reader` asks start
   * positions on, so a read issued after `listen` overlaps the live events.
   */
  readonly client: Redis;
  /** The process's one live reader, shared with the trace store. */
  readonly reader: StreamReader;
  /** Carries ephemeral events between instances; without it, `send` fails and none is received. */
  readonly channels?: RedisChannels;
  readonly keys: RedisKeys;
  /** Events kept per workflow log, at least (see `appendEventScript` on trimming). */
  readonly historyLimit: number;
  /** How long a finished workflow's log is kept, in ms. */
  readonly retentionMs: number;
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
const EphemeralSchema = StoredBodySchema.extend({ kind: z.literal('ephemeral') });

/**
 * Workflow logs on Redis: one Redis Stream per workflow, every stream of it
 * (event ids are the Redis ids, `<ms>-<seq>`, valid on every instance),
 * current item values in a hash, idempotent appends in one Lua script, and
 * live delivery through the process's one shared blocking reader.
 */
export class RedisWorkflowLogStorage implements WorkflowLogStorage {
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #options: RedisStorageOptions;
  readonly #reader: StreamReader;
  readonly #now: () => Date;
  readonly #listeners = new Set<() => void>();
  readonly #channels: RedisChannels | undefined;

  constructor(options: RedisStorageOptions) {
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
    this.#reader = options.reader;
    this.#channels = options.channels;
  }

  async append(input: AppendInput): Promise<StoredEvent> {
    return stored(await this.#append(input, null));
  }

  appendIfCurrent(input: AppendInput, currentEventId: string | null): Promise<StoredEvent | null> {
    return this.#append(input, { currentEventId });
  }

  async send(event: EphemeralInput): Promise<void> {
    if (!this.#channels) throw new TypeError('This storage was made without channels: it cannot send');
    const channels = this.#channels;
    const channel = this.#keys.workflowLog(event.groupId).ephemeral;
    await whileReachable(() => channels.publish(channel, JSON.stringify(event)));
  }

  async #append(
    input: AppendInput,
    condition: { readonly currentEventId: string | null } | null,
  ): Promise<StoredEvent | null> {
    const keys = this.#keys.workflowLog(input.groupId);
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
          itemField(input.stream, input.itemId),
          input.kind,
          body,
          this.#options.historyLimit,
          this.#options.retentionMs,
          condition ? '1' : '0',
          condition?.currentEventId ?? '',
        ],
      ),
    );
    const parts: readonly unknown[] = Array.isArray(reply) ? (reply as unknown[]) : [];
    const [json, replay] = parts;
    if (replay === 2) return null;
    const event = parseStoredEvent(json);
    return replay === 1 ? replayed(event) : event;
  }

  async readAfter(groupId: string, after: string | null): Promise<HistoryRead> {
    const { log, meta } = this.#keys.workflowLog(groupId);
    // An id Redis cannot hold is past every entry: read from the start.
    const position = after === null || !isRedisId(after) ? '' : after;
    const reply = await whileReachable(() => readAfterScript.run(this.#client, [log, meta], [position]));
    if (!Array.isArray(reply)) return { events: [], reset: after !== null && after !== '0' };
    const [oldest] = parseEntries(reply[0]);
    const events = parseEntries(reply[1]).map(eventFromEntry);
    if (reply[2] === 1 || (after !== null && position === '')) {
      return { events, reset: true, unknownAfter: true };
    }
    // A flag rather than an id ('1', the format before the id was kept) ends nothing.
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

  async readLatest(groupId: string): Promise<LatestRead> {
    const { items, meta, log } = this.#keys.workflowLog(groupId);
    const reply = await whileReachable(() => readLatestScript.run(this.#client, [items, meta, log], []));
    const [values, last, ending] = Array.isArray(reply) ? (reply as unknown[]) : [];
    const events = (Array.isArray(values) ? values.map(parseStoredEvent) : []).sort((a, b) =>
      compareEventIds(a.eventId, b.eventId),
    );
    const [end] = parseEntries(ending).map(eventFromEntry);
    return { events, position: typeof last === 'string' && last !== '' ? last : null, end: end ?? null };
  }

  async getItem(groupId: string, stream: string, itemId: string): Promise<StoredEvent | null> {
    const { items } = this.#keys.workflowLog(groupId);
    const json = await whileReachable(() => this.#client.hget(items, itemField(stream, itemId)));
    return json === null ? null : parseStoredEvent(json);
  }

  async getGroup(groupId: string, stream: string): Promise<StoredEvent[]> {
    const { items, order } = this.#keys.workflowLog(groupId);
    const reply = await whileReachable(() =>
      readGroupScript.run(this.#client, [items, order], [itemField(stream, '')]),
    );
    return Array.isArray(reply) ? reply.map(parseStoredEvent) : [];
  }

  /**
   * Live events from a start position read right away on the command
   * connection: every event appended after that read is delivered, in
   * order, once. Appends through this storage after `listen` returns, and
   * everything a later `readAfter` on it does not see, come after it.
   */
  listen(groupId: string, listener: LiveListener): () => void {
    const keys = this.#keys.workflowLog(groupId);
    const stop = this.#reader.listen(keys.log, {
      entry: (entry) => listener(eventFromEntry(entry)),
      lost: () => {
        this.#listeners.delete(unlisten);
        stopEphemeral();
        listener(groupLostEvent(groupId, this.#now()));
      },
    });
    const stopEphemeral =
      this.#channels?.listen(keys.ephemeral, (message) => {
        const sent = EphemeralSchema.safeParse(JSON.parse(message));
        // Ids are the fan-out's to give (each subscriber's position): none here.
        if (sent.success) listener({ ...sent.data, eventId: '', data: sent.data.data ?? null });
      }) ?? (() => undefined);
    const unlisten = () => {
      if (!this.#listeners.delete(unlisten)) return;
      stop();
      stopEphemeral();
    };
    this.#listeners.add(unlisten);
    return unlisten;
  }

  listenerCount(): number {
    return this.#listeners.size;
  }

  /** Stops this storage's live listeners; the reader and the connections belong to the caller. */
  async close(): Promise<void> {
    for (const unlisten of [...this.#listeners]) unlisten();
  }
}

/** Stream names are one word without a colon: the first colon ends it. */
const itemField = (stream: string, itemId: string) => `${stream}:${itemId}`;

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
