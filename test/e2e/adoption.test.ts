/**
 * The adoption workflow end to end: submitted over tRPC and REST, watched
 * as the server sends it (raw WebSocket frames, tRPC's SSE, plain SSE),
 * decided by its home match score; refusals and bad input; the router's
 * logic in process (public view, a dead step, two applications for one pet).
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, test } from 'vitest';

import { shelter } from '../../server/app/pet-shelter/application.js';
import { createCaller } from '../../server/app/pet-shelter/app-router.js';
import type { AdoptionInput } from '../../server/app/pet-shelter/adoptions/schemas.js';
import { homeMatch } from '../../server/app/pet-shelter/adoptions/score.js';
import { adoptionWorkflow } from '../../server/app/pet-shelter/adoptions/workflow.js';
import { createEngine, type Engine } from '../../server/engine/create-engine.js';
import type { Application, StreamEventOf } from '../../server/engine/index.js';
import { createContextFactory } from '../../server/engine/transport/context.js';
import type { Pet, PetInput } from '../../shared/pet.js';
import { compareEventIds } from '../../shared/stream-event.js';
import { collect, untracked } from '../support/async.js';
import { createTestCaller } from '../support/caller.js';
import { rejection } from '../support/errors.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { fieldErrorsOf } from '../support/pet-input.js';
import { buddy, luna } from '../support/pets.js';
import { openRawWatch, TRANSPORTS } from '../support/raw-watch.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { captureLogger, testConfig } from '../support/test-config.js';
import { finishedPet } from '../support/shelter.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

type AdoptionEvent = StreamEventOf<typeof adoptionWorkflow.streams>;
/** An event as compared here: stream, item, kind and data (ids and times are checked apart). */
type Row = readonly [stream: string, itemId: string, kind: string, data: unknown];

const KEY = 'shelter-key-0123456789abcdef';
const ann = { name: 'Ann', email: 'ann@example.org' };
const bob = { name: 'Bob', email: 'bob@example.net' };
const milo: PetInput = { name: 'Milo', species: 'cat', ageMonths: 30 };
/** 60 + 25 for a dog: approved. */
const gardenHouse = { type: 'house', hasGarden: true, otherPets: false } as const;
/** 45 - 30 for a cat, 45 - 10 for a dog: rejected. */
const busyApartment = { type: 'apartment', hasGarden: false, otherPets: true } as const;

const row = (event: AdoptionEvent): Row => [event.stream, event.itemId, event.kind, event.data];
const progress = (itemId: string, data: object, kind = 'set'): Row => [
  'adoptionProgress',
  itemId,
  kind,
  data,
];
const audit = (itemId: string, actor: string, action: string, detail: string): Row => [
  'adoptionAudit',
  itemId,
  'set',
  { actor, action, detail },
];

type Expected = {
  readonly head: readonly Row[];
  readonly background: readonly Row[];
  readonly homeMatch: readonly Row[];
  readonly tail: readonly Row[];
};

/** What one adoption writes, for a pet, an applicant and a home that both steps handle. */
function expectedAdoption(
  id: string,
  pet: Pet,
  applicant: { readonly name: string; readonly email: string },
  home: AdoptionInput['home'],
): Expected {
  const { score, parts } = homeMatch(pet.species, home);
  const approved = score >= 60;
  const homeText = `${home.type} ${home.hasGarden ? 'with' : 'without'} garden, ${home.otherPets ? 'other pets' : 'no other pets'}`;
  return {
    head: [
      progress('submitted', {
        message: `Adoption application ${id} for ${pet.name} submitted by ${applicant.name}`,
        stage: 'submitted',
        progress: 100,
      }),
      audit(
        'submitted',
        'SubmitAdoptionApi',
        'application.received',
        `${applicant.name} applied for ${pet.name} (ID: ${pet.id}, ${pet.species}): ${homeText}`,
      ),
    ],
    background: [
      progress('background', {
        message: `Background check started for ${applicant.name}`,
        stage: 'background',
        progress: 0,
      }),
      audit(
        'background',
        'BackgroundCheck',
        'background.cleared',
        `No concerns on record for ${applicant.name} <${applicant.email}>`,
      ),
      progress('background', {
        message: `Background check passed for ${applicant.name}`,
        stage: 'background',
        progress: 100,
      }),
    ],
    homeMatch: [
      progress('homeMatch', {
        message: `Matching ${pet.name} with ${applicant.name}'s ${home.type}`,
        stage: 'homeMatch',
        progress: 0,
      }),
      audit(
        'homeMatch',
        'HomeMatch',
        'homeMatch.scored',
        `${score}/100 for a ${pet.species} (${parts.join(', ')})`,
      ),
      progress('homeMatch', {
        message: `Home match for ${pet.name}: ${score}/100`,
        stage: 'homeMatch',
        progress: 100,
        score,
      }),
    ],
    tail: [
      audit(
        'decision',
        'AdoptionDecision',
        approved ? 'application.approved' : 'application.rejected',
        approved ? `home match score ${score} is at least 60` : `home match score ${score} is below 40`,
      ),
      progress(
        'workflow',
        {
          message: approved
            ? `Adoption application ${id} approved: ${pet.name} goes home with ${applicant.name}`
            : `Adoption application ${id} rejected: home match score ${score} is below 40`,
          stage: 'decision',
          progress: 100,
          score,
        },
        'finished',
      ),
    ],
  };
}

/**
 * The whole log of one adoption: the submission first, then each step's
 * events in its own order (the two steps run concurrently, so they may
 * interleave), the decision's audit entry, and the final event last.
 */
function expectAdoptionEvents(events: readonly AdoptionEvent[], expected: Expected, traceId: string): void {
  const rows = events.map(row);
  expect(rows.slice(0, 2)).toEqual(expected.head);
  expect(rows.slice(-2)).toEqual(expected.tail);
  const middle = rows.slice(2, -2);
  expect(middle.filter(([, itemId]) => itemId === 'background')).toEqual(expected.background);
  expect(middle.filter(([, itemId]) => itemId === 'homeMatch')).toEqual(expected.homeMatch);
  expect(middle).toHaveLength(expected.background.length + expected.homeMatch.length);
  expect(events.every((event) => event.groupId === traceId)).toBe(true);
  const ids = events.map((event) => event.eventId);
  expect(ids.every((id, i) => i === 0 || compareEventIds(id, ids[i - 1] ?? '0') > 0)).toBe(true);
}

/** The workflow's whole log as the server stored it. */
async function storedLog(engine: Engine, traceId: string): Promise<AdoptionEvent[]> {
  const { events } = await engine.backends.streamStorage.readAfter(traceId, null);
  return events as AdoptionEvent[];
}

const watchRequest = (traceId: string, token: string) => ({
  traceId,
  token,
  procedure: 'adoptions.onUpdate',
  ssePath: `/adoptions/streams/${traceId}`,
});

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

const backends = [
  { name: 'memory', env: {} },
  { name: 'Redis', env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix } },
] as const;

describe.each(backends)('an adoption over a real server ($name)', ({ name, env }) => {
  test.each([
    { home: gardenHouse, pet: buddy, applicant: ann, status: 'approved', petStatus: 'adopted', score: 85 },
    { home: busyApartment, pet: milo, applicant: bob, status: 'rejected', petStatus: 'healthy', score: 15 },
  ] as const)(
    '$status: the same events, each once and in order, on every transport; the decision is stored',
    async ({ home, pet: petInput, applicant, status, petStatus, score }) => {
      await using ctx = await startTestApp({ env });
      const pet = await finishedPet(ctx, petInput);
      expect(pet.status).toBe('healthy');

      const submitted = await ctx.client.trpc.adoptions.submit.mutate({ petId: pet.id, applicant, home });
      const { application, traceId, streamToken } = submitted;
      expect(Object.keys(submitted).sort()).toEqual(['application', 'streamToken', 'traceId']);
      expect(application).toEqual({
        id: application.id,
        petId: pet.id,
        petName: pet.name,
        applicant,
        home,
        status: 'submitted',
        score: null,
        reason: null,
        traceId,
        createdAt: application.createdAt,
        updatedAt: application.createdAt,
      });
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(streamToken.startsWith(`v2.adoption.${traceId}.`)).toBe(true);

      // Watching from the submission on: live delivery, on each of the server's transports.
      const watches = await Promise.all(
        TRANSPORTS.map((transport) => openRawWatch(ctx.url, transport, watchRequest(traceId, streamToken))),
      );
      const generic = await openRawWatch(ctx.url, 'ws', {
        traceId,
        token: streamToken,
        procedure: 'workflows.onUpdate',
      });
      const ended = await Promise.all([...watches, generic].map((watch) => watch.ended));
      const stored = await storedLog(ctx.app.engine, traceId);
      const expected = expectedAdoption(application.id, pet, applicant, home);
      expectAdoptionEvents(stored, expected, traceId);
      for (const [i, watch] of ended.entries()) {
        const label = TRANSPORTS[i] ?? 'workflows.onUpdate';
        expect(watch.end, label).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(watch.events, stored, { label });
      }
      // The typed client's subscription, from history: the same log.
      const typed = await collect(subscribeAll(ctx, traceId, streamToken));
      expectExactlyOnceInOrder(typed, stored, { label: 'typed client' });

      const decided = await ctx.client.trpc.adoptions.get.query({ id: application.id });
      expect(decided).toEqual({
        ...application,
        status,
        score,
        reason:
          status === 'approved'
            ? `home match score ${score} is at least 60`
            : `home match score ${score} is below 40`,
        updatedAt: decided.updatedAt,
      });
      expect((await ctx.client.pets.get.query({ id: pet.id })).status).toBe(petStatus);
      if (name === 'Redis') {
        // The application lives under the application's key prefix the engine gives it.
        const redis = new Redis(TEST_REDIS_URL);
        try {
          expect(await redis.hget(`${prefix}app:adoption:${application.id}`, 'status')).toBe(
            JSON.stringify(status),
          );
          expect(await redis.get(`${prefix}app:adoptions:trace:${traceId}`)).toBe(application.id);
        } finally {
          redis.disconnect();
        }
      }
    },
  );
});

/** `adoptions.onUpdate` through the typed client (WebSocket), until it completes. */
function subscribeAll(ctx: TestApp, traceId: string, token: string): AsyncIterable<AdoptionEvent> {
  return {
    [Symbol.asyncIterator]: () => {
      const queue: AdoptionEvent[] = [];
      let done = false;
      let failure: Error | null = null;
      let wake: (() => void) | null = null;
      const subscription = ctx.client.trpc.adoptions.onUpdate.subscribe(
        { traceId, token },
        {
          onData: (event) => {
            queue.push(untracked(event));
            wake?.();
          },
          onError: (error) => {
            failure = error;
            wake?.();
          },
          onComplete: () => {
            done = true;
            wake?.();
          },
        },
      );
      return {
        next: async () => {
          while (queue.length === 0 && !done && failure === null) {
            await new Promise<void>((resolve) => (wake = resolve));
          }
          if (failure !== null) throw failure;
          const value = queue.shift();
          if (value === undefined) return { done: true, value: undefined };
          return { done: false, value };
        },
        return: async () => {
          subscription.unsubscribe();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

describe('refusals over a real server', () => {
  test('unknown pet: NOT_FOUND; a pet that is not healthy (ill, already adopted): CONFLICT naming its status', async () => {
    await using ctx = await startTestApp();
    const submit = (petId: string) =>
      ctx.client.trpc.adoptions.submit.mutate({ petId, applicant: ann, home: gardenHouse });
    expect(await submit('999').catch((error: unknown) => error)).toMatchObject({
      data: { code: 'NOT_FOUND', httpStatus: 404 },
      message: 'No pet with id "999"',
    });

    const ill = await finishedPet(ctx, luna);
    expect(ill.status).toBe('ill');
    expect(await submit(ill.id).catch((error: unknown) => error)).toMatchObject({
      data: { code: 'CONFLICT', httpStatus: 409 },
      message: `Pet Luna (ID: ${ill.id}) cannot be adopted: its status is "ill", not "healthy"`,
    });

    const pet = await finishedPet(ctx, buddy);
    const approved = await submit(pet.id);
    await ctx.app.engine.workflows.onFinished(approved.traceId);
    expect((await ctx.client.pets.get.query({ id: pet.id })).status).toBe('adopted');
    expect(await submit(pet.id).catch((error: unknown) => error)).toMatchObject({
      data: { code: 'CONFLICT', httpStatus: 409 },
      message: `Pet Buddy (ID: ${pet.id}) cannot be adopted: its status is "adopted", not "healthy"`,
    });
    // The refused submissions stored nothing: only the approved application exists.
    expect(approved.application.id).toBe('1');
    expect(
      await ctx.client.trpc.adoptions.get.query({ id: '2' }).catch((error: unknown) => error),
    ).toMatchObject({
      data: { code: 'NOT_FOUND' },
      message: 'No adoption application with id "2"',
    });
  });

  test('REST: POST /adoptions answers 201 with a location, GET /adoptions/<id> the application; errors as tRPC', async () => {
    await using ctx = await startTestApp();
    const post = (body: unknown) =>
      fetch(`${ctx.url}/adoptions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const pet = await finishedPet(ctx, buddy);
    const res = await post({ petId: pet.id, applicant: ann, home: gardenHouse });
    expect(res.status).toBe(201);
    const created = (await res.json()) as {
      application: { id: string };
      traceId: string;
      streamToken: string;
    };
    expect(res.headers.get('location')).toBe(`/adoptions/${created.application.id}`);
    expect(Object.keys(created).sort()).toEqual(['application', 'streamToken', 'traceId']);
    await ctx.app.engine.workflows.onFinished(created.traceId);
    const got = await fetch(`${ctx.url}/adoptions/${created.application.id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(
      await ctx.client.trpc.adoptions.get.query({ id: created.application.id }),
    );

    const errorOf = async (response: Response) => ({
      status: response.status,
      body: (await response.json()) as unknown,
    });
    expect(await errorOf(await fetch(`${ctx.url}/adoptions/999`))).toEqual({
      status: 404,
      body: { error: { code: 'NOT_FOUND', message: 'No adoption application with id "999"' } },
    });
    expect(await errorOf(await post({ petId: '999', applicant: ann, home: gardenHouse }))).toEqual({
      status: 404,
      body: { error: { code: 'NOT_FOUND', message: 'No pet with id "999"' } },
    });
    expect(await errorOf(await post({ petId: pet.id, applicant: ann, home: gardenHouse }))).toEqual({
      status: 409,
      body: {
        error: {
          code: 'CONFLICT',
          message: `Pet Buddy (ID: ${pet.id}) cannot be adopted: its status is "adopted", not "healthy"`,
        },
      },
    });
    const bad = await errorOf(
      await post({
        petId: '',
        applicant: { name: ' ', email: 'ann' },
        home: { type: 'castle', hasGarden: 'yes' },
      }),
    );
    expect(bad).toEqual({
      status: 400,
      body: {
        error: {
          code: 'BAD_REQUEST',
          message:
            'Invalid input: petId: Too small: expected string to have >=1 characters; applicant: name: must not be empty, email: must be an email address; home: type: must be one of house, apartment, farm, hasGarden: must be true or false, otherPets: is required',
          fieldErrors: {
            petId: ['Too small: expected string to have >=1 characters'],
            applicant: ['name: must not be empty', 'email: must be an email address'],
            home: [
              'type: must be one of house, apartment, farm',
              'hasGarden: must be true or false',
              'otherPets: is required',
            ],
          },
          formErrors: [],
        },
      },
    });
  });
});

/** An email of exactly `length` characters that zod accepts as an address. */
const emailOf = (length: number) => `${'a'.repeat(64)}@${'b'.repeat(length - 64 - 1 - 4)}.org`;
const valid: AdoptionInput = { petId: '1', applicant: ann, home: gardenHouse };

describe('bad input, in process: BAD_REQUEST naming each bad field, nothing stored', () => {
  test.each([
    ['petId empty', { ...valid, petId: '' }, 'petId', ['Too small: expected string to have >=1 characters']],
    [
      'petId too long',
      { ...valid, petId: '1'.repeat(65) },
      'petId',
      ['Too big: expected string to have <=64 characters'],
    ],
    [
      'applicant missing',
      { petId: '1', home: gardenHouse },
      'applicant',
      ['Invalid input: expected object, received undefined'],
    ],
    ['name empty', { ...valid, applicant: { ...ann, name: '' } }, 'applicant', ['name: must not be empty']],
    [
      'name blank',
      { ...valid, applicant: { ...ann, name: '   ' } },
      'applicant',
      ['name: must not be empty'],
    ],
    ['name missing', { ...valid, applicant: { email: ann.email } }, 'applicant', ['name: is required']],
    ['name not text', { ...valid, applicant: { ...ann, name: 42 } }, 'applicant', ['name: must be a string']],
    [
      'name too long',
      { ...valid, applicant: { ...ann, name: 'A'.repeat(101) } },
      'applicant',
      ['name: must be at most 100 characters'],
    ],
    [
      'name with a control character',
      { ...valid, applicant: { ...ann, name: 'A\u0007nn' } },
      'applicant',
      ['name: must not contain control characters'],
    ],
    [
      'name with a direction override',
      { ...valid, applicant: { ...ann, name: 'Ann\u202E' } },
      'applicant',
      ['name: must not contain invisible or text-direction characters'],
    ],
    [
      'email not an address',
      { ...valid, applicant: { ...ann, email: 'ann' } },
      'applicant',
      ['email: must be an email address'],
    ],
    ['email missing', { ...valid, applicant: { name: 'Ann' } }, 'applicant', ['email: is required']],
    [
      'email too long',
      { ...valid, applicant: { ...ann, email: emailOf(255) } },
      'applicant',
      ['email: must be at most 254 characters'],
    ],
    [
      'applicant with an unknown field',
      { ...valid, applicant: { ...ann, phone: '555' } },
      'applicant',
      ['Unrecognized key: "phone"'],
    ],
    [
      'home type unknown',
      { ...valid, home: { ...gardenHouse, type: 'castle' } },
      'home',
      ['type: must be one of house, apartment, farm'],
    ],
    [
      'hasGarden not a boolean',
      { ...valid, home: { ...gardenHouse, hasGarden: 'yes' } },
      'home',
      ['hasGarden: must be true or false'],
    ],
    [
      'otherPets missing',
      { ...valid, home: { type: 'farm', hasGarden: true } },
      'home',
      ['otherPets: is required'],
    ],
    [
      'home with an unknown field',
      { ...valid, home: { ...gardenHouse, rooms: 3 } },
      'home',
      ['Unrecognized key: "rooms"'],
    ],
  ] as const)('%s', async (_, input, field, messages) => {
    await using t = createTestCaller();
    // @ts-expect-error deliberately invalid input
    const error = await rejection(t.caller.adoptions.submit(input));
    expect(error.code).toBe('BAD_REQUEST');
    expect(fieldErrorsOf(error)).toEqual({ [field]: messages });
    expect((await rejection(t.caller.adoptions.get({ id: '1' }))).code).toBe('NOT_FOUND');
  });

  test('an unknown top-level field is named', async () => {
    await using t = createTestCaller();
    // @ts-expect-error deliberately invalid input
    const error = await rejection(t.caller.adoptions.submit({ ...valid, extra: true }));
    expect(error.code).toBe('BAD_REQUEST');
    expect(fieldErrorsOf(error)).toEqual({});
    expect(error.message).toContain('Unrecognized key: \\"extra\\"');
  });
});

describe('boundary lengths, in process', () => {
  test('name: 100 characters pass (also with spaces around, trimmed), 101 do not; email: 254 pass, 255 do not', async () => {
    await using t = createTestCaller();
    const pet = await healthyPetOf(t.caller, t.engine);
    // A home that is rejected, so that the pet stays healthy for the next submission.
    const submit = (applicant: { name: string; email: string }) =>
      t.caller.adoptions.submit({ petId: pet.id, applicant, home: busyApartment });
    const longest = 'N'.repeat(100);
    expect((await submit({ name: longest, email: ann.email })).application.applicant.name).toBe(longest);
    expect((await submit({ name: `  ${longest}  `, email: ann.email })).application.applicant.name).toBe(
      longest,
    );
    // NFC: one stored spelling; 100 code units after normalising.
    expect(
      (await submit({ name: `${'e'.repeat(99)}\u0301`, email: ann.email })).application.applicant.name,
    ).toBe(`${'e'.repeat(98)}é`);
    expect(fieldErrorsOf(await rejection(submit({ name: `${longest}N`, email: ann.email })))).toEqual({
      applicant: ['name: must be at most 100 characters'],
    });
    expect((await submit({ name: 'Ann', email: emailOf(254) })).application.applicant.email).toHaveLength(
      254,
    );
    expect(fieldErrorsOf(await rejection(submit({ name: 'Ann', email: emailOf(255) })))).toEqual({
      applicant: ['email: must be at most 254 characters'],
    });
    expect((await submit({ name: 'A', email: 'a@b.co' })).application.applicant).toEqual({
      name: 'A',
      email: 'a@b.co',
    });
    // A 64-character pet id passes validation (and names no pet); 65 does not.
    expect((await rejection(t.caller.adoptions.submit({ ...valid, petId: '9'.repeat(64) }))).code).toBe(
      'NOT_FOUND',
    );
    expect((await rejection(t.caller.adoptions.submit({ ...valid, petId: '9'.repeat(65) }))).code).toBe(
      'BAD_REQUEST',
    );
  });
});

/** An engine over memory with the shelter (or `application`), and callers with or without a key. */
function engineWith(
  options: { readonly env?: Record<string, string>; readonly application?: Application } = {},
) {
  const { log } = captureLogger();
  const engine = createEngine(testConfig(options.env), log, options.application ?? shelter);
  const context = createContextFactory(engine);
  const callerWith = (apiKey: string | null) =>
    createCaller(context({ caller: { via: 'http', ip: '127.0.0.1', apiKey }, subscriptions: null }));
  return { engine, callerWith, [Symbol.asyncDispose]: () => engine.close() };
}

async function healthyPetOf(
  caller: ReturnType<typeof createCaller>,
  engine: Engine,
  input: PetInput = buddy,
) {
  const created = await caller.pets.create(input);
  await engine.workflows.onFinished(created.traceId);
  return caller.pets.get({ id: created.pet.id });
}

describe('the router and the decision, in process', () => {
  test('with API keys on, an anonymous caller gets the application without its applicant', async () => {
    await using e = engineWith({ env: { API_KEYS: KEY } });
    const keyed = e.callerWith(KEY);
    const pet = await healthyPetOf(keyed, e.engine);
    const anonymous = e.callerWith(null);
    expect((await rejection(anonymous.adoptions.submit({ ...valid, petId: pet.id }))).code).toBe(
      'UNAUTHORIZED',
    );
    const { application, traceId } = await keyed.adoptions.submit({ ...valid, petId: pet.id });
    await e.engine.workflows.onFinished(traceId);
    const whole = await keyed.adoptions.get({ id: application.id });
    expect(whole.applicant).toEqual(ann);
    const publicView = Object.fromEntries(Object.entries(whole).filter(([field]) => field !== 'applicant'));
    expect(await anonymous.adoptions.get({ id: application.id })).toStrictEqual(publicView);
    expect((await rejection(e.callerWith(`${KEY}x`).adoptions.get({ id: application.id }))).code).toBe(
      'UNAUTHORIZED',
    );
  });

  test('a dead step: its failure on the progress stream, the application rejected with the reason, the pet still healthy', async () => {
    const application: Application = {
      ...shelter,
      workflows: shelter.workflows.map((workflow) =>
        workflow.kind === adoptionWorkflow.kind
          ? {
              ...workflow,
              steps: workflow.steps.map((step) =>
                step.name === 'HomeMatch'
                  ? {
                      ...step,
                      handle: () => Promise.reject(new Error('the scoring service is down')),
                    }
                  : step,
              ),
            }
          : workflow,
      ),
    };
    await using e = engineWith({ env: { STEP_MAX_ATTEMPTS: '2' }, application });
    const caller = e.callerWith(null);
    const pet = await healthyPetOf(caller, e.engine);
    const submitted = await caller.adoptions.submit({ petId: pet.id, applicant: ann, home: gardenHouse });
    const finished = await e.engine.workflows.onFinished(submitted.traceId);
    expect(finished.outcomes).toEqual({ BackgroundCheck: 'succeeded', HomeMatch: 'dead' });

    const events = (
      await collect(
        await caller.adoptions.onUpdate({ traceId: submitted.traceId, token: submitted.streamToken }),
      )
    ).map((item) => row(untracked(item)));
    const expected = expectedAdoption(submitted.application.id, pet, ann, gardenHouse);
    expect(events.slice(0, 2)).toEqual(expected.head);
    expect(events.filter(([, itemId]) => itemId === 'background')).toEqual(expected.background);
    expect(events.slice(-3)).toEqual([
      progress('failed_HomeMatch', {
        message: '❌ Home match failed for the adoption of Buddy; the application will be rejected',
        stage: 'homeMatch',
        progress: 100,
      }),
      audit('decision', 'AdoptionDecision', 'application.rejected', 'the home match failed'),
      progress(
        'workflow',
        {
          message: 'Adoption application 1 rejected: the home match failed',
          stage: 'decision',
          progress: 100,
        },
        'finished',
      ),
    ]);
    expect(events).toHaveLength(2 + 3 + 3);
    expect(await caller.adoptions.get({ id: submitted.application.id })).toMatchObject({
      status: 'rejected',
      score: null,
      reason: 'the home match failed',
    });
    expect((await caller.pets.get({ id: pet.id })).status).toBe('healthy');
  });

  test('two approvable applications for one pet: one adopts it, the other is rejected', async () => {
    await using e = engineWith();
    const caller = e.callerWith(null);
    const pet = await healthyPetOf(caller, e.engine);
    const first = await caller.adoptions.submit({ petId: pet.id, applicant: ann, home: gardenHouse });
    const second = await caller.adoptions.submit({ petId: pet.id, applicant: bob, home: gardenHouse });
    await Promise.all([first, second].map((s) => e.engine.workflows.onFinished(s.traceId)));
    const decided = await Promise.all(
      [first, second].map((s) => caller.adoptions.get({ id: s.application.id })),
    );
    expect(decided.map((a) => a.status).sort()).toEqual(['approved', 'rejected']);
    expect(decided.find((a) => a.status === 'rejected')?.reason).toBe('Buddy has been adopted meanwhile');
    expect((await caller.pets.get({ id: pet.id })).status).toBe('adopted');
  });

  test('submissions count against the start rate limit, named in the error', async () => {
    await using e = engineWith({ env: { RATE_LIMIT_CREATE_PER_MINUTE: '1', RATE_LIMIT_CREATE_BURST: '1' } });
    const caller = e.callerWith(null);
    await caller.pets.create(buddy);
    const error = await rejection(caller.adoptions.submit(valid));
    expect(error.code).toBe('TOO_MANY_REQUESTS');
    expect(error.message).toMatch(
      /^Too many adoption applications submitted from this client; retry in \d+ s$/,
    );
  });
});

describe('home match score', () => {
  test.each([
    ['dog', gardenHouse, 85, ['house 60', 'garden +25']],
    ['dog', busyApartment, 35, ['apartment 45', 'other pets -10']],
    ['cat', busyApartment, 15, ['apartment 45', 'other pets -30']],
    ['bird', { type: 'house', hasGarden: false, otherPets: false }, 60, ['house 60']],
    ['cat', { type: 'farm', hasGarden: false, otherPets: false }, 55, ['farm 55']],
    [
      'other',
      { type: 'farm', hasGarden: true, otherPets: true },
      55,
      ['farm 55', 'garden +10', 'other pets -10'],
    ],
  ] as const)('%s, home %o: %i', (species, home, score, parts) => {
    expect(homeMatch(species, home)).toEqual({ score, parts });
  });
});
