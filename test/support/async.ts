/** Collects an async iterable to an array (it must end by itself). */
export async function collect<T>(
  iterable: AsyncIterable<T>,
  options: { readonly limit?: number } = {},
): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (options.limit !== undefined && items.length >= options.limit) break;
  }
  return items;
}

/**
 * The event inside what an in-process subscription yields: at run time a
 * tracked envelope `[id, data, marker]`, in tRPC's declared type `{ id, data }`.
 */
export function untracked<T>(item: { readonly data: T } | readonly [string, T, ...unknown[]]): T {
  return Array.isArray(item) ? (item as readonly [string, T])[1] : (item as { readonly data: T }).data;
}
