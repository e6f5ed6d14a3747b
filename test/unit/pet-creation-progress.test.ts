import { describe, expect, test } from 'vitest';

import type { PetCreationEvent } from '../../shared/pet-creation.js';
import type { PetInput, Profile } from '../../shared/pet.js';
import { untracked } from '../support/async.js';
import { createTestCaller, type TestCaller } from '../support/caller.js';
import { reply, startFakeOpenAI } from '../support/fake-openai.js';
import { buddy, luna, max } from '../support/pets.js';

type Step = {
  readonly itemId: string;
  readonly stage: string | undefined;
  readonly progress: number | undefined;
};

/** Every event of one workflow, as the server sends it (no client in between). */
async function workflowEvents(t: TestCaller, pet: PetInput): Promise<PetCreationEvent[]> {
  const created = await t.caller.pets.create(pet);
  const updates = await t.caller.petCreation.onUpdate({
    traceId: created.traceId,
    token: created.streamToken,
  });
  const events: PetCreationEvent[] = [];
  for await (const item of updates) events.push(untracked(item));
  return events;
}

const step = (e: PetCreationEvent): Step => ({
  itemId: e.itemId,
  stage: e.data?.stage,
  progress: e.data?.progress,
});
const ofStage = (events: readonly PetCreationEvent[], stage: string) =>
  events.filter((e) => e.data?.stage === stage).map(step);

/** The documented values: README, "Usage" and "AI profile enrichment". */
const CREATED: Step[] = [{ itemId: 'message', stage: 'created', progress: 100 }];
const FEEDING: Step[] = [
  { itemId: 'message', stage: 'feeding', progress: 25 },
  { itemId: 'message', stage: 'feeding', progress: 60 },
  { itemId: 'message', stage: 'feeding', progress: 100 },
];
const ENRICHMENT: Step[] = [
  { itemId: 'enrichment_started', stage: 'enrichment', progress: 0 },
  { itemId: 'progress_bio', stage: 'enrichment', progress: 20 },
  { itemId: 'progress_breedGuess', stage: 'enrichment', progress: 40 },
  { itemId: 'progress_temperamentTags', stage: 'enrichment', progress: 60 },
  { itemId: 'progress_adopterHints', stage: 'enrichment', progress: 80 },
  { itemId: 'completed', stage: 'enrichment', progress: 100 },
];
const FINISHED: Step[] = [{ itemId: 'workflow', stage: 'finished', progress: 100 }];

describe('documented stage and progress values', () => {
  test.each([
    ['Max (ill)', max],
    ['Buddy (healthy)', buddy],
    ['Luna (ill, two symptoms)', luna],
  ])('%s with the fallback profile: each step writes exactly its documented values', async (_label, pet) => {
    await using t = createTestCaller();
    const events = await workflowEvents(t, pet);
    expect(events.slice(0, 1).map(step)).toEqual(CREATED);
    expect(events.slice(-1).map(step)).toEqual(FINISHED);
    expect(events.at(-1)?.kind).toBe('finished');
    expect(ofStage(events, 'created')).toEqual(CREATED);
    expect(ofStage(events, 'feeding')).toEqual(FEEDING);
    expect(ofStage(events, 'enrichment')).toEqual(ENRICHMENT);
    expect(ofStage(events, 'finished')).toEqual(FINISHED);
    // Nothing else: every event belongs to one of the four stages.
    expect(events).toHaveLength(CREATED.length + FEEDING.length + ENRICHMENT.length + FINISHED.length);
  });

  test('with a streaming model, bio drafts report 1-19 and the other values stay the documented ones', async () => {
    const bio = `${'Max is a cheerful dog who loves long walks and belly rubs. '.repeat(11)}The end.`;
    const profile: Profile = {
      bio,
      breedGuess: 'Labrador Retriever mix',
      temperamentTags: ['friendly', 'energetic', 'loyal'],
      adopterHints: 'Max needs daily exercise and one more vet visit for his cough.',
    };
    await using fake = await startFakeOpenAI();
    fake.enqueue(reply.json(profile, { chunkSize: 4 }));
    await using t = createTestCaller({ env: fake.env() });
    const events = await workflowEvents(t, max);

    const isDraft = (e: PetCreationEvent) =>
      e.itemId === 'progress_bio' && e.data?.message === 'Writing bio for Max';
    const drafts = events.filter(isDraft).map((e) => e.data?.progress ?? -1);
    expect(bio.length).toBeGreaterThan(500);
    // The first piece at once (a few characters: 1), the last past 19/20 of a typical bio (capped at 19).
    expect(drafts[0]).toBe(1);
    expect(drafts.at(-1)).toBe(19);
    expect(drafts).toEqual([...drafts].sort((a, b) => a - b));
    for (const progress of drafts)
      expect(Number.isInteger(progress) && progress >= 1 && progress <= 19).toBe(true);

    const rest = events.filter((e) => !isDraft(e));
    expect(ofStage(rest, 'created')).toEqual(CREATED);
    expect(ofStage(rest, 'feeding')).toEqual(FEEDING);
    expect(ofStage(rest, 'enrichment')).toEqual(ENRICHMENT);
    expect(ofStage(rest, 'finished')).toEqual(FINISHED);
    expect(rest).toHaveLength(CREATED.length + FEEDING.length + ENRICHMENT.length + FINISHED.length);
  });
});
