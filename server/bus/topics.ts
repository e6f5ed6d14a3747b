/** The bus's topics and the zod schema of each payload. A new topic is one line here. */
import { randomUUID } from 'node:crypto';

import { z } from 'zod';

import { PetIdSchema, PetSchema, PetStatusSchema } from '../../shared/pet.js';

export const topicSchemas = {
  'pet.created': z.object({ pet: PetSchema }),
  'feeding.reminder.enqueued': z.object({ pet: PetSchema }),
  'feeding.reminder.completed': z.object({
    petId: PetIdSchema,
    status: PetStatusSchema,
    nextFeedingAt: z.string(),
  }),
} as const;

export type Topic = keyof typeof topicSchemas;
export type TopicPayload<TTopic extends Topic> = z.infer<(typeof topicSchemas)[TTopic]>;

/** One published event as consumers receive it. */
export type BusMessage<TTopic extends Topic = Topic> = {
  readonly id: string;
  readonly topic: TTopic;
  readonly traceId: string;
  readonly data: TopicPayload<TTopic>;
  readonly publishedAt: string;
};

/** A new message: a fresh id, the validated payload and the trace id it travels with. */
export function createMessage<TTopic extends Topic>(
  topic: TTopic,
  data: TopicPayload<TTopic>,
  traceId: string,
): BusMessage<TTopic> {
  return {
    id: randomUUID(),
    topic,
    traceId,
    data: parsePayload(topic, data),
    publishedAt: new Date().toISOString(),
  };
}

export function parsePayload<TTopic extends Topic>(topic: TTopic, data: unknown): TopicPayload<TTopic> {
  return topicSchemas[topic].parse(data) as TopicPayload<TTopic>;
}
