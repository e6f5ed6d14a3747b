/** One part of the service to close at shutdown, named for the error report. */
export type ClosingPart = readonly [name: string, close: () => Promise<void> | void];

/**
 * Closes the parts one after the other; a part that fails does not keep the
 * next ones open. Rejects at the end with every failure, each named.
 */
export async function closeInOrder(parts: readonly ClosingPart[]): Promise<void> {
  const failures: Error[] = [];
  for (const [name, close] of parts) {
    try {
      await close();
    } catch (error) {
      failures.push(new Error(`closing ${name} failed`, { cause: error }));
    }
  }
  if (failures.length > 0) {
    throw new AggregateError(failures, failures.map((failure) => failure.message).join('; '));
  }
}
