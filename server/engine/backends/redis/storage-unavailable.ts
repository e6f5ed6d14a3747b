/**
 * Redis could not be reached in time (down, restarting, or too slow). Callers
 * see it as "service unavailable"; the request may simply be retried later.
 */
export class StorageUnavailable extends Error {
  override readonly name = 'StorageUnavailable';
  constructor(cause: unknown) {
    super('The service cannot reach its storage right now; try again shortly', { cause });
  }
}

/**
 * Runs a Redis operation, turning connection trouble (timeouts, refused or
 * closed connections, exhausted retries) into StorageUnavailable. Errors the
 * server itself replied with are bugs, not outages, and pass through.
 */
export async function whileReachable<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof StorageUnavailable || (error instanceof Error && error.name === 'ReplyError'))
      throw error;
    throw new StorageUnavailable(error);
  }
}
