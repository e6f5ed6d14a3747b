import type { RedisKeys } from '../backends/redis/keys.js';

/**
 * Keys of the Redis trace store. One hash tag for all of them: the record
 * script updates the index and may delete other traces' keys, so they must
 * share one cluster slot.
 */
export type TraceKeys = {
  /** Sorted set: trace id scored by its creation ordinal (the list cursor); newest last. */
  readonly index: string;
  /** Sorted set: finished trace id scored by when it expires (ms); the first to make room. */
  readonly finished: string;
  /** Counter: the last creation ordinal given to a trace. */
  readonly ordinal: string;
  /** What every per-trace key starts with; the trace id and `:meta` or `:log` follow. */
  readonly traceBase: string;
  /** Hash: the trace's summary fields and counters. */
  readonly meta: (traceId: string) => string;
  /** Redis Stream of the trace's kept entries, ids `<ordinal>-<seq>`. */
  readonly log: (traceId: string) => string;
};

export function traceKeysOf(keys: RedisKeys): TraceKeys {
  const base = `${keys.prefix}traces:{${keys.prefix}traces}:`;
  const traceBase = `${base}t:`;
  return {
    index: `${base}index`,
    finished: `${base}finished`,
    ordinal: `${base}ordinal`,
    traceBase,
    meta: (traceId) => `${traceBase}${traceId}:meta`,
    log: (traceId) => `${traceBase}${traceId}:log`,
  };
}
