/** Collects an async iterable to an array (it must end by itself). */
export async function collect<T>(iterable: AsyncIterable<T>, options: { readonly limit?: number } = {}): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (options.limit !== undefined && items.length >= options.limit) break;
  }
  return items;
}
