export type Page<TItem> = { readonly items: TItem[]; readonly nextCursor: string | null };

/** Every item of a paged list, page after page from the first, as a client walks it. */
export async function allPages<TItem>(
  list: (page: { readonly limit: number; readonly cursor: string | null }) => Promise<Page<TItem>>,
  limit = 100,
): Promise<TItem[]> {
  const items: TItem[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<TItem> = await list({ limit, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return items;
}
