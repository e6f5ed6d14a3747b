/**
 * Adoptions whose home match score is for staff to decide (40 to 59): the
 * workflow waits for `adoptions.decide`, watched as the server sends it on
 * every transport, on memory and Redis; approve, reject, no decision in
 * time; the score bounds on both sides; refusals and bad input.
 */
import { afterAll, describe, expect, test } from 'vitest';

import type { Home } from '../../server/app/pet-shelter/adoptions/schemas.js';
import {
  APPROVAL_SCORE,
  homeMatch,
  needsReview,
  REVIEW_SCORE,
} from '../../server/app/pet-shelter/adoptions/score.js';
import type { PetInput } from '../../shared/pet.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { finishedPet, refusal } from '../support/shelter.js';
import { startTestApp } from '../support/test-app.js';
import { openWorkflowWatch, TRANSPORTS, type OpenWorkflowWatch } from '../support/workflow-watch.js';

const KEY = 'shelter-key-0123456789abcdef';
const ann = { name: 'Ann', email: 'ann@example.org' };
const milo: PetInput = { name: 'Milo', species: 'cat', ageMonths: 30 };
/** 55 for a cat: staff decide. */
const farm: Home = { type: 'farm', hasGarden: false, otherPets: false };
/** 60 + 10 - 30 = 40 for a cat: the lowest score staff decide. */
const busyGardenHouse: Home = { type: 'house', hasGarden: true, otherPets: true };
/** 45 + 25 - 10 = 60 for a dog: approved without staff. */
const gardenApartment: Home = { type: 'apartment', hasGarden: true, otherPets: true };

type Row = readonly [stream: string, itemId: string, kind: string, data: unknown];
const row = (e: { stream: string; itemId: string; kind: string; data: unknown }): Row => [
  e.stream,
  e.itemId,
  e.kind,
  e.data,
];

/** Resolves once the watch has an event of `itemId` (the wait's announcement, say). */
async function seen(watch: OpenWorkflowWatch, itemId: string): Promise<void> {
  for (let count = 1; !watch.events.some((event) => event.itemId === itemId); count += 1) {
    await watch.received(count);
  }
}

const prefixes: string[] = [];
afterAll(() => Promise.all(prefixes.map((prefix) => deleteKeys(prefix))));
const backends = [
  { name: 'memory', env: (): Record<string, string> => ({}) },
  {
    name: 'Redis',
    env: (): Record<string, string> => {
      const prefix = randomKeyPrefix();
      prefixes.push(prefix);
      return { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };
    },
  },
] as const;

const announcement = (score: number): Row => [
  'adoptionProgress',
  'review',
  'set',
  {
    message: `Home match score ${score} is from 40 to 59: waiting for staff to decide on Ann's application for Milo`,
    stage: 'review',
    progress: 0,
    score,
  },
];

describe.each(backends)('a staff decision over a real server ($name)', ({ env }) => {
  test.each([
    {
      decision: 'approve',
      note: 'Visited the farm: a fine home',
      said: 'Staff approved the application: Visited the farm: a fine home',
      status: 'approved',
      reason: 'staff approved it: Visited the farm: a fine home',
      petStatus: 'adopted',
    },
    {
      decision: 'reject',
      note: 'No fence around the farm',
      said: 'Staff rejected the application: No fence around the farm',
      status: 'rejected',
      reason: 'staff rejected it: No fence around the farm',
      petStatus: 'healthy',
    },
  ] as const)(
    '$decision: the workflow waits for it, then decides; each event once, in order, on every transport',
    async ({ decision, note, said, status, reason, petStatus }) => {
      await using ctx = await startTestApp({ env: env() });
      const pet = await finishedPet(ctx, milo);
      const { application, traceId, streamToken } = await ctx.client.trpc.adoptions.submit.mutate({
        petId: pet.id,
        applicant: ann,
        home: farm,
      });
      const watches = await Promise.all(
        TRANSPORTS.map((transport) => openWorkflowWatch(ctx.url, transport, { traceId, token: streamToken })),
      );
      await Promise.all(watches.map((watch) => seen(watch, 'review')));
      for (const watch of watches) expect(watch.events.map(row)).toContainEqual(announcement(55));
      const [wait] = await ctx.client.trpc.workflows.waits.query({ traceId, token: streamToken });
      expect(wait).toMatchObject({
        name: 'staffDecision',
        step: 'HomeMatch',
        awaitedBy: 'staff',
        status: 'waiting',
      });
      // Undecided meanwhile.
      expect((await ctx.client.trpc.adoptions.get.query({ id: application.id })).status).toBe('submitted');

      const given = await ctx.client.trpc.adoptions.decide.mutate({ traceId, decision, note });
      expect(given).toMatchObject({
        applicationId: application.id,
        wait: { name: 'staffDecision', status: 'received', input: { decision, note }, by: 'staff' },
      });
      const ended = await Promise.all(watches.map((watch) => watch.ended));
      const { events: stored } = await ctx.app.engine.backends.streamStorage.readAfter(traceId, null);
      const rows = stored.map(row);
      const action = decision === 'approve' ? 'review.approve' : 'review.reject';
      expect(rows.filter(([, itemId]) => itemId === 'review')).toEqual([
        announcement(55),
        ['adoptionAudit', 'review', 'set', { actor: 'staff', action, detail: note }],
        ['adoptionProgress', 'review', 'set', { message: said, stage: 'review', progress: 100, score: 55 }],
      ]);
      expect(rows.at(-1)).toEqual([
        'adoptionProgress',
        'workflow',
        'finished',
        {
          message:
            status === 'approved'
              ? `Adoption application ${application.id} approved: Milo goes home with Ann`
              : `Adoption application ${application.id} rejected: ${reason}`,
          stage: 'decision',
          progress: 100,
          score: 55,
        },
      ]);
      for (const [i, watch] of ended.entries()) {
        expect(watch.end, TRANSPORTS[i]).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(watch.events, stored, { label: TRANSPORTS[i] });
      }
      const decided = await ctx.client.trpc.adoptions.get.query({ id: application.id });
      expect(decided).toMatchObject({
        status,
        score: 55,
        reason,
        review: { decision, note, by: 'staff', at: expect.any(String) },
      });
      expect((await ctx.client.pets.get.query({ id: pet.id })).status).toBe(petStatus);
      // Decided once.
      expect(await refusal(ctx.client.trpc.adoptions.decide.mutate({ traceId, decision, note }))).toEqual({
        code: 'CONFLICT',
        message: 'The workflow has already received staffDecision',
      });
    },
  );

  test('no decision in time: rejected, saying so', async () => {
    await using ctx = await startTestApp({ env: { ...env(), ADOPTION_DECISION_TIMEOUT_MS: '200' } });
    const pet = await finishedPet(ctx, milo);
    const { application, traceId } = await ctx.client.trpc.adoptions.submit.mutate({
      petId: pet.id,
      applicant: ann,
      home: farm,
    });
    await ctx.app.engine.workflows.onFinished(traceId);
    const decided = await ctx.client.trpc.adoptions.get.query({ id: application.id });
    expect(decided).toMatchObject({
      status: 'rejected',
      reason: 'home match score 55 needs a staff decision, and none came in time',
      review: { decision: 'timedOut', note: null, by: null },
    });
    const { events } = await ctx.app.engine.backends.streamStorage.readAfter(traceId, null);
    expect(events.map(row).filter(([, itemId]) => itemId === 'review')).toEqual([
      announcement(55),
      [
        'adoptionAudit',
        'review',
        'set',
        { actor: 'AdoptionReview', action: 'review.timedOut', detail: 'No staff decision in time' },
      ],
      [
        'adoptionProgress',
        'review',
        'set',
        { message: 'No staff decision in time', stage: 'review', progress: 100, score: 55 },
      ],
    ]);
    expect(
      await refusal(ctx.client.trpc.adoptions.decide.mutate({ traceId, decision: 'approve', note: 'Late' })),
    ).toEqual({
      code: 'CONFLICT',
      message: 'The workflow no longer waits for staffDecision: it timed out',
    });
  });
});

describe('the score bounds', () => {
  test('staff decide from 40 to 59; below 40 rejected, from 60 approved, without waiting', () => {
    expect([39, 40, 59, 60].map(needsReview)).toEqual([false, true, true, false]);
    expect([REVIEW_SCORE, APPROVAL_SCORE]).toEqual([40, 60]);
    expect(homeMatch('cat', busyGardenHouse).score).toBe(40);
    expect(homeMatch('dog', gardenApartment).score).toBe(60);
    expect(homeMatch('dog', { type: 'apartment', hasGarden: false, otherPets: true }).score).toBe(35);
  });

  test.each([
    { species: 'cat', home: busyGardenHouse, score: 40, waits: true },
    { species: 'dog', home: gardenApartment, score: 60, waits: false },
    {
      species: 'dog',
      home: { type: 'apartment', hasGarden: false, otherPets: true },
      score: 35,
      waits: false,
    },
  ] as const)('score $score: waits for staff: $waits', async ({ species, home, score, waits }) => {
    await using ctx = await startTestApp();
    const pet = await finishedPet(ctx, { ...milo, species });
    const { traceId, streamToken } = await ctx.client.trpc.adoptions.submit.mutate({
      petId: pet.id,
      applicant: ann,
      home,
    });
    if (waits) {
      const watch = await openWorkflowWatch(ctx.url, 'sse', { traceId, token: streamToken });
      await seen(watch, 'review');
      expect(watch.events.map(row)).toContainEqual(announcement(score));
      await ctx.client.trpc.adoptions.decide.mutate({ traceId, decision: 'approve', note: 'Fine' });
      watch.close();
    }
    await ctx.app.engine.workflows.onFinished(traceId);
    expect(await ctx.client.trpc.workflows.waits.query({ traceId, token: streamToken })).toHaveLength(
      waits ? 1 : 0,
    );
    const { events } = await ctx.app.engine.backends.streamStorage.readAfter(traceId, null);
    expect(events.at(-1)?.data).toMatchObject({ score });
  });
});

describe('refusals', () => {
  test('unknown trace NOT_FOUND; an adoption not waiting CONFLICT; bad input BAD_REQUEST naming the field; note limit 500', async () => {
    await using ctx = await startTestApp();
    const unknown = 'f'.repeat(32);
    expect(
      await refusal(
        ctx.client.trpc.adoptions.decide.mutate({ traceId: unknown, decision: 'approve', note: 'Fine' }),
      ),
    ).toEqual({
      code: 'NOT_FOUND',
      message: `No adoption application with trace id "${unknown}"`,
    });
    const dog = await finishedPet(ctx, { ...milo, name: 'Rex', species: 'dog' });
    const approved = await ctx.client.trpc.adoptions.submit.mutate({
      petId: dog.id,
      applicant: ann,
      home: gardenApartment,
    });
    await ctx.app.engine.workflows.onFinished(approved.traceId);
    expect(
      await refusal(
        ctx.client.trpc.adoptions.decide.mutate({
          traceId: approved.traceId,
          decision: 'approve',
          note: 'Fine',
        }),
      ),
    ).toEqual({ code: 'CONFLICT', message: 'The workflow is not waiting for staffDecision' });

    const pet = await finishedPet(ctx, milo);
    const { traceId, streamToken } = await ctx.client.trpc.adoptions.submit.mutate({
      petId: pet.id,
      applicant: ann,
      home: farm,
    });
    const watch = await openWorkflowWatch(ctx.url, 'ws', { traceId, token: streamToken });
    await seen(watch, 'review');
    const bad = (input: Record<string, unknown>) =>
      refusal(
        ctx.client.trpc.adoptions.decide.mutate(
          input as { traceId: string; decision: 'approve'; note: string },
        ),
      );
    expect(await bad({ traceId, decision: 'maybe', note: 'Fine' })).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/^Invalid input: decision: /),
    });
    expect(await bad({ traceId, decision: 'approve', note: 'n'.repeat(501) })).toEqual({
      code: 'BAD_REQUEST',
      message: 'Invalid input: note: must be at most 500 characters',
    });
    expect(await bad({ traceId: 'nope', decision: 'approve', note: 'Fine' })).toEqual({
      code: 'BAD_REQUEST',
      message: 'Invalid input: traceId: must be a trace id',
    });
    const given = await ctx.client.trpc.adoptions.decide.mutate({
      traceId,
      decision: 'reject',
      note: 'n'.repeat(500),
    });
    expect(given.wait.input).toEqual({ decision: 'reject', note: 'n'.repeat(500) });
    expect((await watch.ended).end).toEqual({ kind: 'completed' });
  });

  test('with API_KEYS set, a decision needs a key', async () => {
    await using ctx = await startTestApp({ env: { API_KEYS: KEY } });
    const keyed = ctx.newClient({ apiKey: KEY });
    const anonymous = ctx.newClient({ transport: 'sse' });
    const pet = await finishedPet({ ...ctx, client: keyed }, milo);
    const { traceId, streamToken } = await keyed.trpc.adoptions.submit.mutate({
      petId: pet.id,
      applicant: ann,
      home: farm,
    });
    const watch = await openWorkflowWatch(ctx.url, 'sse', { traceId, token: streamToken });
    await seen(watch, 'review');
    expect(
      await refusal(anonymous.trpc.adoptions.decide.mutate({ traceId, decision: 'approve', note: 'Fine' })),
    ).toEqual({
      code: 'UNAUTHORIZED',
      message: 'An API key is required',
    });
    await keyed.trpc.adoptions.decide.mutate({ traceId, decision: 'approve', note: 'Fine' });
    expect((await watch.ended).end).toEqual({ kind: 'completed' });
  });
});
