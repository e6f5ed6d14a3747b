/** The load client's check of one workflow's events, as the product's spec gives them. */
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import type { PetInput } from '../../shared/pet.js';
import { enrichmentEvents, feedingMessages } from '../support/pets.js';

/** Why the events are not one complete workflow of `pet`, or null when they are. */
export function workflowProblem(events: readonly PetCreationEvent[], pet: PetInput): string | null {
  const ids = events.map((e) => Number(e.eventId));
  if (ids.some((id, i) => i > 0 && id <= (ids[i - 1] ?? 0))) return `event ids out of order: ${ids.join(',')}`;
  const [first] = events;
  if (!first?.data?.message.startsWith(`Pet ${pet.name} (ID: `)) return 'first event is not the created message';
  if (events.at(-1)?.kind !== 'finished') return 'last event is not the finished event';
  const feeding = events.filter((e) => e.data?.stage === 'feeding').map((e) => e.data?.message);
  if (JSON.stringify(feeding) !== JSON.stringify(feedingMessages(pet))) return `feeding messages: ${feeding.join(' | ')}`;
  // A streaming model also writes drafts of the bio, each extending the one before.
  const isDraft = (e: PetCreationEvent) => e.itemId === 'progress_bio' && e.data?.message === `Writing bio for ${pet.name}`;
  let previous = '';
  for (const draft of events.filter(isDraft)) {
    const text = draft.data?.partial ?? '';
    if (text.length <= previous.length || !text.startsWith(previous)) return `bio draft does not extend the one before`;
    previous = text;
  }
  const enrichment = events
    .filter((e) => e.data?.stage === 'enrichment' && !isDraft(e))
    .map((e) => [e.itemId, e.data?.message]);
  if (JSON.stringify(enrichment) !== JSON.stringify(enrichmentEvents(pet.name, false))) {
    return `enrichment events: ${JSON.stringify(enrichment)}`;
  }
  const drafts = events.filter(isDraft).length;
  if (events.length !== 1 + feeding.length + enrichment.length + drafts + 1) return `${events.length} events: unexpected ones among them`;
  return null;
}
