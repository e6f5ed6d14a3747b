/**
 * Every defined stream. Adding a stream means a definition file and one line
 * here; every step handler and procedure then gets it as `streams.<name>`.
 */
import { createHash } from 'node:crypto';

import type { z } from 'zod';

import { Stream, type StreamDefinition, type StreamOptions, type WriteDescription } from './define-stream.js';
import { petCreationStream } from './definitions/pet-creation-stream.js';
import type { StreamStorage } from './stream-storage.js';

export const streamDefinitions = {
  petCreation: petCreationStream,
} as const satisfies Record<string, StreamDefinition>;

type Definitions = typeof streamDefinitions;
export type StreamName = keyof Definitions;
export type Streams = {
  readonly [K in StreamName]: Stream<z.infer<Definitions[K]['schema']>>;
};

export function createStreams(storage: StreamStorage, options: StreamOptions): Streams {
  return mapStreams(streamDefinitions, (definition) => new Stream(definition, storage, options));
}

/**
 * The streams as a step run sees them: each write carries an idempotency key
 * made of `prefix`, the write's content and how often that same write came
 * before in this run. A retried run repeats its writes with the same keys, so
 * storage keeps the first copy; a write whose content depends on timing (a
 * draft) gets a new key and is not mistaken for another.
 */
export function withWriteKeys(streams: Streams, prefix: string, signal?: AbortSignal): Streams {
  const seen = new Map<string, number>();
  const writeKey = (write: WriteDescription) => {
    // An attempt that was aborted (timed out) must not write behind its retry's back.
    signal?.throwIfAborted();
    const digest = createHash('sha256')
      .update(`${write.kind}\u0000${write.itemId}\u0000${JSON.stringify(write.data)}`)
      .digest('base64url')
      .slice(0, 22);
    const occurrence = (seen.get(digest) ?? 0) + 1;
    seen.set(digest, occurrence);
    return `${prefix}:${digest}:${occurrence}`;
  };
  return mapStreams(streams, (stream) => stream.withWriteKeys(writeKey));
}

function mapStreams<TIn>(
  source: Readonly<Record<StreamName, TIn>>,
  make: (value: TIn) => Stream<unknown>,
): Streams {
  // Each entry is made from the entry of the same name, so its data type is
  // that stream's schema type: the cast only restates what the keys say.
  return Object.fromEntries(
    Object.entries(source).map(([name, value]) => [name, make(value)]),
  ) as unknown as Streams;
}
