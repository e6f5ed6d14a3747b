/**
 * "Exactly once, in order, nothing lost", asserted on the events a server
 * sent (read without any client-side dedupe) against what it stored.
 */
import { expect } from 'vitest';

import { compareEventIds, type StreamEvent } from '../../shared/stream-event.js';

type Event = StreamEvent<unknown>;

/**
 * `received` must be exactly the stored events after `after` (all of them
 * when absent): each once, in stored order, none missing, none added, each
 * as stored. Duplicates, reorderings and gaps are reported by event id
 * before the whole lists are compared.
 */
export function expectExactlyOnceInOrder(
  received: readonly Event[],
  stored: readonly Event[],
  options: { readonly after?: string | null; readonly label?: string } = {},
): void {
  const { after = null, label = 'received' } = options;
  const ids = received.map((event) => event.eventId);
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const id of ids) {
    if (seen.has(id)) duplicates.push(id);
    seen.add(id);
  }
  expect(duplicates, `${label}: event ids sent more than once`).toEqual([]);
  const backwards = ids.filter((id, i) => i > 0 && compareEventIds(id, ids[i - 1] ?? '0') <= 0);
  expect(backwards, `${label}: event ids out of order`).toEqual([]);
  const expected = after === null ? stored : stored.filter((e) => compareEventIds(e.eventId, after) > 0);
  const missing = expected.map((e) => e.eventId).filter((id) => !seen.has(id));
  expect(missing, `${label}: stored events never sent`).toEqual([]);
  expect(received, label).toEqual(expected);
}
