import type { z } from 'zod';

import type { EndKind, StreamEvent } from '../../../shared/stream-event.js';
import { assertName, type AllowedName } from '../names.js';
import type { FanOutSink } from '../subscriptions/fan-out.js';
import { applyUpdate, type UpdateOp } from './update-ops.js';
import type { WorkflowLog } from './workflow-log.js';

/** A stream's name and the zod schema of its items' data. */
export type StreamDefinition<TName extends string = string, TSchema extends z.ZodType = z.ZodType> = {
  readonly name: TName;
  readonly schema: TSchema;
};

/**
 * Streams by name, each under its own name (`{ petCreation: petCreationStream }`):
 * a stream filed under another name fails to compile.
 */
export type StreamMap = Readonly<Record<string, StreamDefinition>>;
export type CheckedStreams<TStreams extends StreamMap> = {
  readonly [K in keyof TStreams]: TStreams[K] extends StreamDefinition<K & string> ? TStreams[K] : never;
};

/** The data type of a defined stream. */
export type StreamData<TDefinition extends StreamDefinition> = z.output<TDefinition['schema']>;

/** Every event a workflow with these streams can deliver: a union discriminated by `stream`. */
export type StreamEventOf<TStreams extends StreamMap, TName extends keyof TStreams = keyof TStreams> = {
  [K in TName & string]: StreamEvent<StreamData<TStreams[K]>, K>;
}[TName & string];

/** The typed streams a step or procedure writes: `streams.petCreation.set(...)`. */
export type StreamsOf<TStreams extends StreamMap> = {
  readonly [K in keyof TStreams & string]: Stream<StreamData<TStreams[K]>, K>;
};

/**
 * Defines a stream: a name (letters and digits, unique in the application,
 * not tRPC-reserved) and the zod schema every item's data must match.
 */
export function defineStream<const TName extends string, TSchema extends z.ZodType>(definition: {
  readonly name: AllowedName<TName>;
  readonly schema: TSchema;
}): StreamDefinition<TName, TSchema> {
  assertName('stream name', definition.name);
  return { name: definition.name, schema: definition.schema };
}

export type SubscribeOptions = {
  /** Resume after this event id; from the start when null or absent. */
  readonly after?: string | null | undefined;
  readonly signal?: AbortSignal | undefined;
};

/** What a write is, for deriving its idempotency key (`data` is the operations of an update). */
export type WriteDescription = {
  readonly stream: string;
  readonly itemId: string;
  readonly kind: 'set' | 'delete' | 'update' | 'send';
  readonly data: unknown;
};

/** Tries of one update that lost to concurrent writes of the same item on other instances. */
const MAX_UPDATE_TRIES = 1000;

/** Gives each write its idempotency key (steps set it; see WorkflowLogStorage.append). */
export type WriteKey = (write: WriteDescription) => string;

/**
 * One defined stream over a workflow log: validated writes and current
 * values. Its events share the workflow's one ordered log with the other
 * streams of the workflow (the group id is the trace id).
 */
export class Stream<TData, TName extends string = string> {
  readonly name: TName;
  readonly #schema: z.ZodType<TData>;
  readonly #log: WorkflowLog;
  readonly #writeKey: WriteKey | undefined;

  constructor(definition: StreamDefinition<TName, z.ZodType<TData>>, log: WorkflowLog, writeKey?: WriteKey) {
    this.name = definition.name;
    this.#schema = definition.schema;
    this.#log = log;
    this.#writeKey = writeKey;
  }

  /** The same stream whose writes carry idempotency keys from `writeKey`. */
  withWriteKeys(writeKey: WriteKey): Stream<TData, TName> {
    return new Stream({ name: this.name, schema: this.#schema }, this.#log, writeKey);
  }

  /** Validates, stores as the item's current value, appends and publishes one event. */
  async set(groupId: string, itemId: string, data: TData): Promise<StreamEvent<TData, TName>> {
    const parsed = this.#schema.parse(data);
    return this.#append(groupId, itemId, 'set', parsed);
  }

  /**
   * Applies `ops` (set, merge, increment, append; see UpdateOp) to the
   * item's current value atomically, validates the result against the
   * schema and stores it as the item's new value (a `set` event). Updates
   * of one item never lose each other: on this instance they take turns,
   * and one that lost to another instance's write is applied again to the
   * new value. An invalid result (ZodError) or operation (InvalidUpdate)
   * stores nothing.
   */
  async update(
    groupId: string,
    itemId: string,
    ops: readonly UpdateOp[],
  ): Promise<StreamEvent<TData, TName>> {
    // Keyed once: a try redone on a newer value is the same write, so a retried step does not apply it twice.
    const idempotencyKey = this.#writeKey?.({ stream: this.name, itemId, kind: 'update', data: ops });
    const { storage } = this.#log;
    return this.#log.inTurn(`${groupId}\u0000${this.name}\u0000${itemId}`, async () => {
      for (let tries = 1; ; tries += 1) {
        const current = await storage.getItem(groupId, this.name, itemId);
        const data = this.#schema.parse(applyUpdate(current === null ? undefined : current.data, ops));
        const event = await storage.appendIfCurrent(
          { stream: this.name, groupId, itemId, kind: 'set', data, idempotencyKey },
          current?.eventId ?? null,
        );
        if (event) return event as StreamEvent<TData, TName>;
        if (tries === MAX_UPDATE_TRIES)
          throw new Error(`Item ${itemId} of ${this.name} kept changing: ${tries} tries of an update lost`);
      }
    });
  }

  /**
   * Pushes `event` (validated) to the subscribers of this stream that are
   * live now, on every instance, as an `ephemeral` event: never stored,
   * never replayed, and missed by a subscriber that is reconnecting or
   * still reading its history. For what is only worth seeing live (token
   * drafts, typing indicators).
   */
  async send(groupId: string, event: { readonly itemId: string; readonly data: TData }): Promise<void> {
    const data = this.#schema.parse(event.data);
    // Keyed like a write, which a step's aborted attempt is refused.
    this.#writeKey?.({ stream: this.name, itemId: event.itemId, kind: 'send', data });
    await this.#log.storage.send({
      stream: this.name,
      groupId,
      itemId: event.itemId,
      kind: 'ephemeral',
      data,
      time: new Date().toISOString(),
    });
  }

  async delete(groupId: string, itemId: string): Promise<StreamEvent<TData, TName>> {
    return this.#append(groupId, itemId, 'delete', null);
  }

  /**
   * Writes the workflow's last event (item `workflow`, kind `finished`, or
   * `cancelled` for a cancelled one): subscriptions to any of its streams
   * end after it.
   */
  async finish(groupId: string, data: TData, kind: EndKind = 'finished'): Promise<StreamEvent<TData, TName>> {
    const parsed = this.#schema.parse(data);
    const event = await this.#log.storage.append({
      stream: this.name,
      groupId,
      itemId: 'workflow',
      kind,
      data: parsed,
      // A workflow ends once, whoever ends it and however: the first end is the only one.
      idempotencyKey: 'finished',
    });
    return event as StreamEvent<TData, TName>;
  }

  async get(groupId: string, itemId: string): Promise<StreamEvent<TData, TName> | null> {
    return (await this.#log.storage.getItem(groupId, this.name, itemId)) as StreamEvent<TData, TName> | null;
  }

  async getGroup(groupId: string): Promise<StreamEvent<TData, TName>[]> {
    return (await this.#log.storage.getGroup(groupId, this.name)) as StreamEvent<TData, TName>[];
  }

  /**
   * This stream's events of the workflow after `after`, in order, each
   * once, through the engine's one fan-out: history first, then live,
   * ending after the workflow's `finished` event (see WorkflowFanOut).
   */
  subscribe(groupId: string, options: SubscribeOptions = {}): AsyncGenerator<StreamEvent<TData, TName>> {
    return this.#log.pull(groupId, {
      after: options.after ?? null,
      streams: [this.name],
      signal: options.signal,
    }) as AsyncGenerator<StreamEvent<TData, TName>>;
  }

  /** The same events as `subscribe`, pushed to `sink`. Returns the function that stops it. */
  push(groupId: string, after: string | null, sink: FanOutSink): () => void {
    return this.#log.push(groupId, { after, streams: [this.name] }, sink);
  }

  /** The `reset` event a subscriber of this stream resuming after `after` gets when its history is gone. */
  resetEvent(groupId: string, after: string | null): StreamEvent<TData, TName> {
    return this.#log.resetEvent(groupId, after, this.name) as StreamEvent<TData, TName>;
  }

  async #append(
    groupId: string,
    itemId: string,
    kind: 'set' | 'delete',
    data: TData | null,
  ): Promise<StreamEvent<TData, TName>> {
    const event = await this.#log.storage.append({
      stream: this.name,
      groupId,
      itemId,
      kind,
      data,
      idempotencyKey: this.#writeKey?.({ stream: this.name, itemId, kind, data }),
    });
    return event as StreamEvent<TData, TName>;
  }
}
