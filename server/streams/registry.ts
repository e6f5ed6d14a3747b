/**
 * Every defined stream. Adding a stream means a definition file and one line
 * here; every step handler and procedure then gets it as `streams.<name>`.
 */
import type { z } from 'zod';

import { Stream, type StreamDefinition, type StreamOptions } from './define-stream.js';
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

/** The streams as a step sees them: every write carries `<prefix>:<n>` as its idempotency key. */
export function withWriteKeys(streams: Streams, prefix: string, signal?: AbortSignal): Streams {
  let n = 0;
  const writeKey = () => {
    // An attempt that was aborted (timed out) must not write behind its retry's back.
    signal?.throwIfAborted();
    return `${prefix}:${(n += 1)}`;
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
