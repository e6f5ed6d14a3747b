import { createHash } from 'node:crypto';

import type { Stream, WriteDescription, WriteKey } from '../streams/define-stream.js';

/**
 * The idempotency keys of one step run's writes: each key is made of
 * `prefix`, the write's stream, item and content, and how often that same
 * write came before in this run. A retried run repeats its writes with the
 * same keys, so storage keeps the first copy; a write whose content depends
 * on timing (a draft) gets a new key and is not mistaken for another.
 */
export function runWriteKeys(prefix: string, signal?: AbortSignal): WriteKey {
  const seen = new Map<string, number>();
  return (write: WriteDescription) => {
    // An attempt that was aborted (timed out) must not write behind its retry's back.
    signal?.throwIfAborted();
    const digest = createHash('sha256')
      .update(`${write.kind}\u0000${write.stream}\u0000${write.itemId}\u0000${JSON.stringify(write.data)}`)
      .digest('base64url')
      .slice(0, 22);
    const occurrence = (seen.get(digest) ?? 0) + 1;
    seen.set(digest, occurrence);
    return `${prefix}:${digest}:${occurrence}`;
  };
}

/** The streams as one step run sees them: every write keyed by `runWriteKeys(prefix, signal)`. */
export function withWriteKeys<TStreams extends Readonly<Record<string, Stream<unknown, string>>>>(
  streams: TStreams,
  prefix: string,
  signal?: AbortSignal,
): TStreams {
  const writeKey = runWriteKeys(prefix, signal);
  // Each entry is the same stream with keys: the cast only restates the record's own type.
  return Object.fromEntries(
    Object.entries(streams).map(([name, stream]) => [name, stream.withWriteKeys(writeKey)]),
  ) as unknown as TStreams;
}
