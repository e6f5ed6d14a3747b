import { expect } from 'vitest';

import type { PetInput } from '../../shared/pet.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { enrichmentEvents, feedingMessages } from './pets.js';

const ENRICHMENT_ITEMS = new Set(['enrichment_started', 'completed']);

/**
 * Checks one workflow's full event list: the created message first, each
 * step's events in SPEC order (the two steps may interleave), the finished
 * event last, event ids strictly increasing, nothing else.
 */
export function expectCompleteWorkflow(
  events: readonly PetCreationEvent[],
  pet: PetInput & { readonly id?: string },
  options: { readonly fallback?: boolean } = {},
): void {
  const [first, ...rest] = events;
  expect(first?.itemId).toBe('message');
  expect(first?.data?.message).toMatch(
    new RegExp(
      `^Pet ${pet.name} \\(ID: \\w+\\) created successfully - Species: ${pet.species}, Age: ${pet.ageMonths} months, Status: new$`,
    ),
  );
  const last = rest.at(-1);
  expect(last?.kind).toBe('finished');
  expect(last?.data?.message).toBe(`Pet creation workflow finished for ${pet.name}`);

  const middle = rest.slice(0, -1);
  expect(middle.filter((e) => e.itemId === 'message').map((e) => e.data?.message)).toEqual(feedingMessages(pet));
  expect(
    middle
      .filter((e) => ENRICHMENT_ITEMS.has(e.itemId) || e.itemId.startsWith('progress_'))
      .map((e) => [e.itemId, e.data?.message]),
  ).toEqual(enrichmentEvents(pet.name, options.fallback ?? true));
  expect(middle).toHaveLength(3 + 6);

  const ids = events.map((e) => e.eventId);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toEqual([...ids].sort((a, b) => Number(a) - Number(b)));
}
