/** Topics: what steps subscribe to and emit, each with the zod schema of its payload. */
import { randomUUID } from 'node:crypto';

import type { z } from 'zod';

import { assertName, type ReservedName } from '../names.js';

/** Topic name → payload schema. */
export type TopicMap = Readonly<Record<string, z.ZodType>>;

/** The payload a subscriber of `TTopic` receives (after parsing). */
export type TopicPayload<TTopics extends TopicMap, TTopic extends keyof TTopics> = z.output<TTopics[TTopic]>;
/** What an emitter of `TTopic` passes (before parsing). */
export type TopicInput<TTopics extends TopicMap, TTopic extends keyof TTopics> = z.input<TTopics[TTopic]>;

/**
 * Defines an application's topics: `defineTopics({ 'pet.created': z.object({ pet: PetSchema }) })`.
 * Names are words of letters and digits joined by dots.
 */
export function defineTopics<const TTopics extends TopicMap>(
  topics: TTopics & Partial<Record<ReservedName, never>>,
): TTopics {
  for (const name of Object.keys(topics)) assertName('topic name', name);
  return topics;
}

/** One published event as consumers receive it. */
export type BusMessage<TData = unknown> = {
  readonly id: string;
  readonly topic: string;
  readonly traceId: string;
  readonly data: TData;
  readonly publishedAt: string;
  /** The publisher's trace context, when traces are exported. */
  readonly context?: TraceCarrier;
};

/** W3C trace context fields (`traceparent`, `tracestate`) of the span that published a message. */
export type TraceCarrier = Readonly<Record<string, string>>;

/** What travels with a published payload. */
export type PublishMeta = {
  readonly traceId: string;
  /** The publisher's trace context, when traces are exported. */
  readonly context?: TraceCarrier | undefined;
};

/**
 * Every topic the engine carries, with its schema: payloads are validated
 * when published and again when consumed (a payload that no longer parses
 * fails its attempt like any error).
 */
export class TopicRegistry {
  readonly #schemas = new Map<string, z.ZodType>();

  constructor(maps: readonly TopicMap[] = []) {
    for (const map of maps) this.add(map);
  }

  /** Adds topics; the same name with another schema is refused. */
  add(map: TopicMap): void {
    for (const [topic, schema] of Object.entries(map)) {
      assertName('topic name', topic);
      const known = this.#schemas.get(topic);
      if (known !== undefined && known !== schema) {
        throw new TypeError(`Topic \`${topic}\` is defined twice, with two different schemas`);
      }
      this.#schemas.set(topic, schema);
    }
  }

  has(topic: string): boolean {
    return this.#schemas.has(topic);
  }

  parse(topic: string, data: unknown): unknown {
    const schema = this.#schemas.get(topic);
    if (!schema) throw new TypeError(`Unknown topic \`${topic}\``);
    return schema.parse(data);
  }

  /** A new message: a fresh id, the validated payload, the trace id (and trace context) it travels with. */
  createMessage(topic: string, data: unknown, meta: PublishMeta): BusMessage {
    const message = {
      id: randomUUID(),
      topic,
      traceId: meta.traceId,
      data: this.parse(topic, data),
      publishedAt: new Date().toISOString(),
    };
    return meta.context ? { ...message, context: meta.context } : message;
  }
}
