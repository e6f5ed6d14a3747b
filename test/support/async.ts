/**
 * Collects an async iterable to an array (it must end by itself). After a
 * stream's finished event (an item of kind `finished`), nothing may come but
 * the end, within END_AFTER_FINISHED_MS: a subscription that stays open
 * fails here at once.
 */
export async function collect<T>(
  iterable: AsyncIterable<T>,
  options: { readonly limit?: number } = {},
): Promise<T[]> {
  const items: T[] = [];
  const iterator = iterable[Symbol.asyncIterator]();
  let deadline: number | null = null;
  for (;;) {
    const next =
      deadline === null
        ? await iterator.next()
        : await within(
            iterator.next(),
            Math.max(0, deadline - Date.now()),
            'the end after the finished event',
          );
    if (next.done) return items;
    items.push(next.value);
    if (options.limit !== undefined && items.length >= options.limit) {
      // As `for await` does when it stops early: the source is closed.
      await iterator.return?.();
      return items;
    }
    if (deadline === null && isFinished(next.value)) deadline = Date.now() + END_AFTER_FINISHED_MS;
  }
}

function isFinished(item: unknown): boolean {
  return typeof item === 'object' && item !== null && (item as { kind?: unknown }).kind === 'finished';
}

/**
 * The event inside what an in-process subscription yields: at run time a
 * tracked envelope `[id, data, marker]`, in tRPC's declared type `{ id, data }`.
 */
export function untracked<T>(item: { readonly data: T } | readonly [string, T, ...unknown[]]): T {
  return Array.isArray(item) ? (item as readonly [string, T])[1] : (item as { readonly data: T }).data;
}

/**
 * Settles as `promise` does, or rejects once `ms` have passed: for what must
 * follow an event promptly (a subscription's end after its finished event),
 * so that a missing one fails at once, naming `what`, rather than at the
 * test's timeout.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a subscription may take to end once its finished event has come. */
export const END_AFTER_FINISHED_MS = 3000;

/**
 * For `vi.waitFor` on state that has no event to await (listener counts,
 * readiness): a bound far above what the change takes, so a busy machine
 * does not fail the test; the default of one second is too tight there.
 */
export const SETTLES = { timeout: 10_000, interval: 10 } as const;
