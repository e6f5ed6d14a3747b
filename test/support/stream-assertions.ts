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
  const drafts = expectBioDrafts(middle, pet.name);
  expect(middle.filter((e) => e.itemId === 'message').map((e) => e.data?.message)).toEqual(
    feedingMessages(pet),
  );
  expect(
    middle
      .filter((e) => !drafts.includes(e))
      .filter((e) => ENRICHMENT_ITEMS.has(e.itemId) || e.itemId.startsWith('progress_'))
      .map((e) => [e.itemId, e.data?.message]),
  ).toEqual(enrichmentEvents(pet.name, options.fallback ?? true));
  expect(middle).toHaveLength(3 + 6 + drafts.length);

  const ids = events.map((e) => e.eventId);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toEqual([...ids].sort((a, b) => Number(a) - Number(b)));
}

/**
 * Checks the bio drafts a streaming model writes into `progress_bio`
 * (`Writing bio for <name>`, the text so far in `partial`) and returns them:
 * each extends the one before, all come before `Generated bio for <name>`,
 * and each is a beginning of the final bio when that event carries it.
 */
export function expectBioDrafts(events: readonly PetCreationEvent[], name: string): PetCreationEvent[] {
  const drafts = events.filter(
    (e) => e.itemId === 'progress_bio' && e.data?.message === `Writing bio for ${name}`,
  );
  const done = events.filter(
    (e) => e.itemId === 'progress_bio' && e.data?.message === `Generated bio for ${name}`,
  );
  expect(done).toHaveLength(1);
  let previous = '';
  for (const draft of drafts) {
    const text = draft.data?.partial ?? '';
    expect(text.length).toBeGreaterThan(previous.length);
    expect(text.startsWith(previous)).toBe(true);
    expect(events.indexOf(draft)).toBeLessThan(events.findIndex((e) => e === done[0]));
    const final = done[0]?.data?.partial;
    if (final !== undefined) expect(final.startsWith(text)).toBe(true);
    previous = text;
  }
  return drafts;
}
