/** Decoding of raw Redis replies (from Lua scripts, MULTI and pipelines). */

/** A flat `[field, value, field, value, …]` reply (HGETALL inside Lua) as a record. */
export function pairsToRecord(reply: readonly unknown[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const field = reply[i];
    const value = reply[i + 1];
    if (typeof field === 'string' && typeof value === 'string') record[field] = value;
  }
  return record;
}

/** MULTI and pipelines report each command's error in place: the first one fails the call. */
export function throwFirstError<T>(
  results: [error: Error | null, result: T][] | null,
): [error: Error | null, result: T][] {
  if (results === null) throw new Error('Redis transaction was aborted');
  for (const [error] of results) if (error) throw error;
  return results;
}
