/**
 * The `petProfile` stream of a pet creation, as the server sends it on every
 * transport: with a model (an OpenAI-compatible fake on loopback) the bio's
 * drafts, then each field in order, all from the model; without one, each
 * field once from the fallback; when the model fails part-way, the fields it
 * reported stay and the others come from the fallback. Beside it,
 * `petCreation.onUpdate` still carries exactly the seed's messages, never a
 * profile event.
 */
import { describe, expect, test } from 'vitest';

import { fallbackProfile } from '../../server/app/pet-shelter/pets/ai/fallback-profile.js';
import type { PetCreationEvent, PetProfileData } from '../../shared/pet-creation.js';
import { PROFILE_FIELDS, type PetInput, type Profile, type ProfileField } from '../../shared/pet.js';
import { reply, startFakeOpenAI, type FakeReply } from '../support/fake-openai.js';
import { max } from '../support/pets.js';
import { openRawWatch } from '../support/raw-watch.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openWorkflowWatch, TRANSPORTS, type WorkflowEvent } from '../support/workflow-watch.js';

const MODEL_PROFILE: Profile = {
  bio: 'Max is a cheerful two-year-old dog with a wagging tail and a big heart. He loves long walks, belly rubs and learning new tricks, and his cough is already on the mend.',
  breedGuess: 'Labrador Retriever mix',
  temperamentTags: ['friendly', 'energetic', 'loyal', 'curious'],
  adopterHints:
    'Max needs daily exercise and one more vet visit for his cough; a home with a garden would suit him.',
};
const ANSWER = JSON.stringify(MODEL_PROFILE);
/** The answer up to `extra` characters after the start of `key`. */
const answerUpTo = (key: keyof Profile, extra: number) => ANSWER.slice(0, ANSWER.indexOf(`"${key}"`) + extra);

type ProfileEvent = WorkflowEvent & { readonly data: PetProfileData };

/**
 * Creates `pet` and waits for its workflow; returns what the server sent on
 * every transport (the same on each): the `petProfile` stream through
 * `workflows.onUpdate`, and `petCreation.onUpdate`; and the stored pet.
 */
async function createAndWatch(ctx: TestApp, pet: PetInput = max) {
  const created = await ctx.client.pets.create.mutate(pet);
  const request = { traceId: created.traceId, token: created.streamToken };
  // Opened at once: while the workflow runs, its events reach them live, as they are written.
  const watches = await Promise.all(
    TRANSPORTS.map(async (transport) => ({
      transport,
      profile: await openWorkflowWatch(ctx.url, transport, { ...request, streams: ['petProfile'] }),
      creation: await openRawWatch(ctx.url, transport, request),
    })),
  );
  await ctx.app.engine.workflows.onFinished(created.traceId);
  const { events: log } = await ctx.app.engine.backends.streamStorage.readAfter(created.traceId, null);
  expect(log.filter((event) => event.kind === 'finished')).toHaveLength(1);

  let profile: ProfileEvent[] | undefined;
  let creation: PetCreationEvent[] | undefined;
  for (const watch of watches) {
    const { transport } = watch;
    const profileSent = await watch.profile.ended;
    watch.profile.close();
    expect(profileSent.end, transport).toEqual({ kind: 'completed' });
    // The profile's events, and the finished event that ends every watch.
    expect(profileSent.events, transport).toEqual(
      log.filter((event) => event.stream === 'petProfile' || event.kind === 'finished'),
    );
    profile ??= profileSent.events.filter((event): event is ProfileEvent => event.kind === 'set');

    const creationSent = await watch.creation.ended;
    watch.creation.close();
    expect(creationSent.end, transport).toEqual({ kind: 'completed' });
    expect(creationSent.events, transport).toEqual(log.filter((event) => event.stream === 'petCreation'));
    creation ??= creationSent.events;
  }
  const stored = await ctx.client.pets.get.query({ id: created.pet.id });
  return { profile: profile ?? [], creation: creation ?? [], stored };
}

/** Every profile event is a `set` of the item named after its field, in the stream's strict shape. */
function expectProfileShape(events: readonly ProfileEvent[]): void {
  for (const event of events) {
    expect(event).toMatchObject({ stream: 'petProfile', kind: 'set', itemId: event.data.field });
    expect(Object.keys(event.data).sort()).toEqual(['draft', 'field', 'source', 'value']);
  }
}

/** The bio's drafts: all before any whole field, each from the model, each longer and a beginning of `bio`. */
function expectBioDrafts(events: readonly ProfileEvent[], bio: string): ProfileEvent[] {
  const firstWhole = events.findIndex((event) => !event.data.draft);
  const drafts = events.filter((event) => event.data.draft);
  expect(events.slice(0, drafts.length)).toEqual(drafts);
  expect(firstWhole).toBe(drafts.length);
  let previous = '';
  for (const draft of drafts) {
    expect(draft.data).toMatchObject({ field: 'bio', source: 'model', draft: true });
    const text = draft.data.value;
    expect(typeof text).toBe('string');
    if (typeof text !== 'string') continue;
    expect(text.length).toBeGreaterThan(previous.length);
    expect(bio.startsWith(text)).toBe(true);
    previous = text;
  }
  return drafts;
}

/** The whole fields (`draft: false`), in PROFILE_FIELDS order, each once, each from the source given for it. */
function expectWholeFields(
  events: readonly ProfileEvent[],
  sources: Record<ProfileField, { readonly source: 'model' | 'fallback'; readonly profile: Profile }>,
): void {
  expect(events.filter((event) => !event.data.draft).map((event) => event.data)).toEqual(
    PROFILE_FIELDS.map((field) => ({
      field,
      value: sources[field].profile[field],
      draft: false,
      source: sources[field].source,
    })),
  );
}

/** The bio drafts the `petCreation` stream shows (`Writing bio for …`, the text in `partial`). */
const creationDrafts = (events: readonly PetCreationEvent[]) =>
  events.filter((event) => event.data?.message === 'Writing bio for Max').map((event) => event.data?.partial);

const fromModel = { source: 'model', profile: MODEL_PROFILE } as const;

describe('the petProfile stream', () => {
  test('with a model: the bio’s drafts, then each field in order, all from the model; petCreation unchanged', async () => {
    await using fake = await startFakeOpenAI();
    fake.enqueue(reply.answer(ANSWER, { chunkSize: 4 }));
    await using ctx = await startTestApp({ env: fake.env() });
    const { profile, creation, stored } = await createAndWatch(ctx);

    expectProfileShape(profile);
    const drafts = expectBioDrafts(profile, MODEL_PROFILE.bio);
    // The first piece at once, then again once 120 more characters came: at least two.
    expect(drafts.length).toBeGreaterThanOrEqual(2);
    expectWholeFields(profile, {
      bio: fromModel,
      breedGuess: fromModel,
      temperamentTags: fromModel,
      adopterHints: fromModel,
    });
    expect(profile).toHaveLength(drafts.length + PROFILE_FIELDS.length);
    // The same drafts as petCreation's progress messages show.
    expect(drafts.map((draft) => draft.data.value)).toEqual(creationDrafts(creation));

    expectCompleteWorkflow(creation, max, { fallback: false });
    expect(stored.profile).toEqual(MODEL_PROFILE);
    expect(fake.requests).toHaveLength(1);
  });

  test('without a model: each field once, from the fallback, no draft', async () => {
    await using ctx = await startTestApp();
    const { profile, creation, stored } = await createAndWatch(ctx);
    const fallback = { source: 'fallback', profile: fallbackProfile(stored) } as const;

    expectProfileShape(profile);
    expect(profile.filter((event) => event.data.draft)).toEqual([]);
    expectWholeFields(profile, {
      bio: fallback,
      breedGuess: fallback,
      temperamentTags: fallback,
      adopterHints: fallback,
    });
    expect(profile).toHaveLength(PROFILE_FIELDS.length);
    expectCompleteWorkflow(creation, max, { fallback: true });
    expect(stored.profile).toEqual(fallbackProfile(stored));
  });

  const failures: readonly {
    readonly where: string;
    readonly answer: FakeReply;
    /** Fields the model completed before it failed. */
    readonly completed: readonly ProfileField[];
  }[] = [
    { where: 'mid-bio', answer: reply.answer(answerUpTo('bio', 60), { end: 'cut' }), completed: [] },
    {
      where: 'mid-temperamentTags',
      answer: reply.answer(answerUpTo('temperamentTags', 25), { end: 'cut' }),
      completed: ['bio', 'breedGuess'],
    },
  ];

  test.each(failures)(
    'a model failing $where: the fields it reported stay, the rest come from the fallback',
    async ({ answer, completed }) => {
      await using fake = await startFakeOpenAI();
      fake.enqueue(answer);
      await using ctx = await startTestApp({ env: fake.env() });
      const { profile, creation, stored } = await createAndWatch(ctx);
      const fallback = { source: 'fallback', profile: fallbackProfile(stored) } as const;
      const sourceOf = (field: ProfileField) => (completed.includes(field) ? fromModel : fallback);

      expectProfileShape(profile);
      // The model had started the bio: its drafts stay too.
      const drafts = expectBioDrafts(profile, MODEL_PROFILE.bio);
      expect(drafts.length).toBeGreaterThanOrEqual(1);
      expectWholeFields(profile, {
        bio: sourceOf('bio'),
        breedGuess: sourceOf('breedGuess'),
        temperamentTags: sourceOf('temperamentTags'),
        adopterHints: sourceOf('adopterHints'),
      });
      expect(profile).toHaveLength(drafts.length + PROFILE_FIELDS.length);
      expect(drafts.map((draft) => draft.data.value)).toEqual(creationDrafts(creation));

      expectCompleteWorkflow(creation, max, {
        fallback: true,
      });
      // The stored profile is wholly the fallback's, never a mix.
      expect(stored.profile).toEqual(fallbackProfile(stored));
      expect(fake.requests).toHaveLength(1);
    },
  );
});
