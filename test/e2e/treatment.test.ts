/**
 * A workflow that waits for a person: the treatment of an ill pet waits
 * for a vet's clearance. Watched as the server sends it (raw WebSocket
 * frames, tRPC's SSE, plain SSE), on memory and Redis; a wait that outlives
 * the instance that opened it; a wait that times out; refusals and bad input.
 */
import { afterAll, describe, expect, test } from 'vitest';

import type { treatmentWorkflow } from '../../server/app/pet-shelter/treatments/workflow.js';
import type { Engine, StreamEventOf } from '../../server/engine/index.js';
import type { TraceEntry } from '../../shared/trace.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { buddy, luna, max } from '../support/pets.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { finishedPet, refusal } from '../support/shelter.js';
import { startTestApp } from '../support/test-app.js';
import { openWorkflowWatch, TRANSPORTS } from '../support/workflow-watch.js';

type TreatmentEvent = StreamEventOf<typeof treatmentWorkflow.streams>;
type Row = readonly [itemId: string, kind: string, data: unknown];

const KEY = 'shelter-key-0123456789abcdef';
const row = (event: { readonly itemId: string; readonly kind: string; readonly data: unknown }): Row => [
  event.itemId,
  event.kind,
  event.data,
];

const started = (name: string): Row => [
  'started',
  'set',
  { message: `Treatment started for ${name}`, stage: 'started' },
];
const waiting = (name: string): Row => [
  'vetClearance',
  'set',
  {
    message: `Waiting for a vet to clear ${name}`,
    stage: 'waiting',
    awaiting: 'vetClearance',
    awaitedBy: 'vet',
  },
];
const finished = (name: string): Row => [
  'workflow',
  'finished',
  { message: `Treatment workflow finished for ${name}`, stage: 'finished' },
];

async function storedLog(engine: Engine, traceId: string): Promise<TreatmentEvent[]> {
  const { events } = await engine.backends.streamStorage.readAfter(traceId, null);
  return events as TreatmentEvent[];
}

/** The trace's entries of these kinds, once the workflow has finished on some instance. */
async function traceEntries(
  engine: Engine,
  traceId: string,
  kinds: readonly string[],
): Promise<TraceEntry[]> {
  const trace = await engine.observability.traces.get(traceId);
  return (trace?.entries ?? []).filter((entry) => kinds.includes(entry.kind));
}

const prefixes: string[] = [];
afterAll(() => Promise.all(prefixes.map((prefix) => deleteKeys(prefix))));

function redisEnv(): Record<string, string> {
  const prefix = randomKeyPrefix();
  prefixes.push(prefix);
  return { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };
}

const backends = [
  { name: 'memory', env: () => ({}) },
  { name: 'Redis', env: redisEnv },
] as const;

describe.each(backends)('a treatment over a real server ($name)', ({ env }) => {
  test.each([
    { cleared: true, outcome: 'Vet cleared Max', stage: 'cleared', status: 'healthy' },
    { cleared: false, outcome: 'Max stays in treatment', stage: 'notCleared', status: 'ill' },
  ] as const)(
    'cleared: $cleared: it waits, the answer arrives, the pet becomes $status; each event once, in order, on every transport',
    async ({ cleared, outcome, stage, status }) => {
      await using ctx = await startTestApp({ env: env() });
      const pet = await finishedPet(ctx, max);
      expect(pet.status).toBe('ill');

      const answer = await ctx.client.trpc.pets.treat.mutate({ petId: pet.id });
      expect(Object.keys(answer).sort()).toEqual(['streamToken', 'traceId']);
      const { traceId, streamToken } = answer;
      expect(streamToken.startsWith(`v2.treatment.${traceId}.`)).toBe(true);

      const watches = await Promise.all(
        TRANSPORTS.map((transport) => openWorkflowWatch(ctx.url, transport, { traceId, token: streamToken })),
      );
      // What is awaited, from whom, is on the stream before the vet can answer.
      await Promise.all(watches.map((watch) => watch.received(2)));
      for (const watch of watches) expect(watch.events.map(row)).toEqual([started('Max'), waiting('Max')]);
      const open = await ctx.client.trpc.workflows.waits.query({ traceId, token: streamToken });
      expect(open).toEqual([
        {
          name: 'vetClearance',
          step: 'VetClearance',
          awaitedBy: 'vet',
          status: 'waiting',
          input: null,
          by: null,
          openedAt: expect.any(String),
          deadline: expect.any(String),
          settledAt: null,
        },
      ]);
      // The default wait: seven days.
      const [wait] = open;
      expect(Date.parse(wait?.deadline ?? '') - Date.parse(wait?.openedAt ?? '')).toBe(604_800_000);
      expect((await ctx.client.pets.get.query({ id: pet.id })).status).toBe('ill');

      const note = cleared ? 'Lungs clear, eating well' : 'Still coughing';
      const given = await ctx.client.trpc.pets.vetClearance.mutate({ petId: pet.id, cleared, note });
      expect(given).toMatchObject({
        traceId,
        wait: { name: 'vetClearance', status: 'received', input: { cleared, note }, by: 'vet' },
      });

      const ended = await Promise.all(watches.map((watch) => watch.ended));
      const stored = await storedLog(ctx.app.engine, traceId);
      expect(stored.map(row)).toEqual([
        started('Max'),
        waiting('Max'),
        ['outcome', 'set', { message: outcome, stage, note }],
        finished('Max'),
      ]);
      for (const [i, watch] of ended.entries()) {
        const label = TRANSPORTS[i];
        expect(watch.end, label).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(watch.events, stored, { label });
      }
      expect((await ctx.client.pets.get.query({ id: pet.id })).status).toBe(status);

      // The wait and the input are in the trace; the step's first attempt ended waiting, not failed.
      expect(await traceEntries(ctx.app.engine, traceId, ['wait_started', 'wait_ended'])).toEqual([
        {
          seq: expect.any(Number),
          at: expect.any(String),
          kind: 'wait_started',
          step: 'VetClearance',
          name: 'vetClearance',
          awaitedBy: 'vet',
          deadline: wait?.deadline,
        },
        {
          seq: expect.any(Number),
          at: expect.any(String),
          kind: 'wait_ended',
          step: 'VetClearance',
          name: 'vetClearance',
          status: 'received',
          by: 'vet',
          input: { cleared, note },
        },
      ]);
      const trace = await ctx.app.engine.observability.traces.get(traceId);
      expect(trace?.stepRuns.map((run) => [run.step, run.attempt, run.status])).toEqual([
        ['VetClearance', 1, 'waiting'],
        ['VetClearance', 1, 'succeeded'],
      ]);
      // Answered once: the same answer again is refused (the pet is no longer in treatment, or the wait is over).
      const again = await refusal(ctx.client.trpc.pets.vetClearance.mutate({ petId: pet.id, cleared, note }));
      expect(again.code).toBe('CONFLICT');
      await expect(
        ctx.app.engine.waits.answer(traceId, 'vetClearance', { cleared, note }, 'vet'),
      ).rejects.toThrow('The workflow has already received vetClearance');
    },
  );

  test('unanswered until its deadline, it ends by itself, saying so; the pet stays ill and may be treated again', async () => {
    await using ctx = await startTestApp({ env: { ...env(), VET_CLEARANCE_TIMEOUT_MS: '200' } });
    const pet = await finishedPet(ctx, luna);
    const { traceId, streamToken } = await ctx.client.trpc.pets.treat.mutate({ petId: pet.id });
    const watches = await Promise.all(
      TRANSPORTS.map((transport) => openWorkflowWatch(ctx.url, transport, { traceId, token: streamToken })),
    );
    const ended = await Promise.all(watches.map((watch) => watch.ended));
    const stored = await storedLog(ctx.app.engine, traceId);
    expect(stored.map(row)).toEqual([
      started('Luna'),
      waiting('Luna'),
      [
        'outcome',
        'set',
        {
          message:
            'No vet clearance for Luna in time: the treatment ends without it, and Luna stays in treatment',
          stage: 'timedOut',
        },
      ],
      finished('Luna'),
    ]);
    for (const [i, watch] of ended.entries())
      expectExactlyOnceInOrder(watch.events, stored, { label: TRANSPORTS[i] });
    const [wait] = await ctx.client.trpc.workflows.waits.query({ traceId, token: streamToken });
    expect(wait).toMatchObject({ status: 'timedOut', input: null, by: null });
    expect(Date.parse(wait?.settledAt ?? '')).toBeGreaterThanOrEqual(Date.parse(wait?.deadline ?? ''));
    const late = await refusal(
      ctx.client.trpc.pets.vetClearance.mutate({ petId: pet.id, cleared: true, note: 'Late' }),
    );
    expect(late).toMatchObject({
      code: 'CONFLICT',
      message: `Pet Luna (ID: ${pet.id}) is not in treatment: start one with pets.treat`,
    });
    expect((await ctx.client.pets.get.query({ id: pet.id })).status).toBe('ill');
    // Free for another treatment.
    const next = await ctx.client.trpc.pets.treat.mutate({ petId: pet.id });
    expect(next.traceId).not.toBe(traceId);
  });
});

describe('a wait on Redis outlives the instance that opened it', () => {
  test('opened on one instance, which then stops; answered on another, which runs the step to its end', async () => {
    const shared = redisEnv();
    const first = await startTestApp({ env: shared });
    const second = await startTestApp({ env: shared });
    try {
      const pet = await finishedPet(first, max);
      const { traceId, streamToken } = await first.client.trpc.pets.treat.mutate({ petId: pet.id });
      const watch = await openWorkflowWatch(first.url, 'ws', { traceId, token: streamToken });
      await watch.received(2);
      watch.close();
      const lastSeen = watch.events[1]?.eventId ?? '';
      await first.client.close();
      await first.app.close();

      const watches = await Promise.all(
        TRANSPORTS.map((transport) =>
          openWorkflowWatch(second.url, transport, { traceId, token: streamToken, lastEventId: lastSeen }),
        ),
      );
      const given = await second.client.trpc.pets.vetClearance.mutate({
        petId: pet.id,
        cleared: true,
        note: 'Recovered',
      });
      expect(given.traceId).toBe(traceId);
      const ended = await Promise.all(watches.map((w) => w.ended));
      const stored = await storedLog(second.app.engine, traceId);
      expect(stored.map(row)).toEqual([
        started('Max'),
        waiting('Max'),
        ['outcome', 'set', { message: 'Vet cleared Max', stage: 'cleared', note: 'Recovered' }],
        finished('Max'),
      ]);
      for (const [i, w] of ended.entries()) {
        expect(w.end, TRANSPORTS[i]).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(w.events, stored, { after: lastSeen, label: TRANSPORTS[i] });
      }
      expect((await second.client.pets.get.query({ id: pet.id })).status).toBe('healthy');
    } finally {
      await second[Symbol.asyncDispose]();
      await first[Symbol.asyncDispose]();
    }
  });

  test('opened on one instance, which then stops; another times it out at its deadline', async () => {
    const shared = { ...redisEnv(), VET_CLEARANCE_TIMEOUT_MS: '400', WORKFLOW_CHECK_INTERVAL_MS: '50' };
    const first = await startTestApp({ env: shared });
    await using second = await startTestApp({ env: shared });
    const pet = await finishedPet(first, max);
    const { traceId, streamToken } = await first.client.trpc.pets.treat.mutate({ petId: pet.id });
    const watch = await openWorkflowWatch(first.url, 'ws', { traceId, token: streamToken });
    await watch.received(2);
    watch.close();
    await first[Symbol.asyncDispose]();

    const ended = await (await openWorkflowWatch(second.url, 'sse', { traceId, token: streamToken })).ended;
    expect(ended.end).toEqual({ kind: 'completed' });
    expect(ended.events.map(row).slice(2)).toEqual([
      [
        'outcome',
        'set',
        {
          message:
            'No vet clearance for Max in time: the treatment ends without it, and Max stays in treatment',
          stage: 'timedOut',
        },
      ],
      finished('Max'),
    ]);
  });
});

describe('an answer whose step cannot be queued at once', () => {
  test('taken by an instance whose steps have stopped: the input is kept, and another instance runs the step', async () => {
    const shared = { ...redisEnv(), WORKFLOW_CHECK_INTERVAL_MS: '50' };
    const first = await startTestApp({ env: shared });
    await using second = await startTestApp({ env: shared });
    const pet = await finishedPet(first, max);
    const { traceId, streamToken } = await first.client.trpc.pets.treat.mutate({ petId: pet.id });
    const watch = await openWorkflowWatch(second.url, 'sse', { traceId, token: streamToken });
    await watch.received(2);
    // Its bus is closed: it records the input, but cannot queue the step.
    await first.app.engine.stopSteps();
    const answered = await first.app.engine.waits.answer(
      traceId,
      'vetClearance',
      { cleared: true, note: 'Fine' },
      'vet',
    );
    expect(answered.status).toBe('received');
    await first.waitForLog(
      (line) => line.msg === 'Cannot queue VetClearance to run again now; the next check will',
    );
    const ended = await watch.ended;
    expect(ended.events.map(row)).toEqual([
      started('Max'),
      waiting('Max'),
      ['outcome', 'set', { message: 'Vet cleared Max', stage: 'cleared', note: 'Fine' }],
      finished('Max'),
    ]);
    expectExactlyOnceInOrder(ended.events, await storedLog(second.app.engine, traceId), { label: 'sse' });
    await first[Symbol.asyncDispose]();
  });
});

describe('refusals', () => {
  test('treat: unknown pet NOT_FOUND; a pet that is not ill CONFLICT naming its status; one treatment at a time', async () => {
    await using ctx = await startTestApp();
    expect(await refusal(ctx.client.trpc.pets.treat.mutate({ petId: '999' }))).toMatchObject({
      code: 'NOT_FOUND',
      message: 'No pet with id "999"',
    });
    const healthy = await finishedPet(ctx, buddy);
    expect(await refusal(ctx.client.trpc.pets.treat.mutate({ petId: healthy.id }))).toMatchObject({
      code: 'CONFLICT',
      message: `Pet Buddy (ID: ${healthy.id}) cannot be treated: its status is "healthy", not "ill"`,
    });
    const ill = await finishedPet(ctx, max);
    await ctx.client.trpc.pets.treat.mutate({ petId: ill.id });
    expect(await refusal(ctx.client.trpc.pets.treat.mutate({ petId: ill.id }))).toMatchObject({
      code: 'CONFLICT',
      message: `Pet Max (ID: ${ill.id}) is already in treatment`,
    });
  });

  test('vetClearance: a pet not in treatment CONFLICT; bad input BAD_REQUEST naming the field, at the note limit of 500', async () => {
    await using ctx = await startTestApp();
    const ill = await finishedPet(ctx, max);
    expect(
      await refusal(ctx.client.trpc.pets.vetClearance.mutate({ petId: ill.id, cleared: true, note: 'Fine' })),
    ).toMatchObject({
      code: 'CONFLICT',
      message: `Pet Max (ID: ${ill.id}) is not in treatment: start one with pets.treat`,
    });
    const { traceId, streamToken } = await ctx.client.trpc.pets.treat.mutate({ petId: ill.id });
    const watch = await openWorkflowWatch(ctx.url, 'ws', { traceId, token: streamToken });
    await watch.received(2);

    const bad = async (input: Record<string, unknown>) => {
      const error = await refusal(
        ctx.client.trpc.pets.vetClearance.mutate(input as { petId: string; cleared: boolean; note: string }),
      );
      expect(error.code).toBe('BAD_REQUEST');
      return error.message;
    };
    expect(await bad({ petId: ill.id, cleared: true, note: 'x'.repeat(501) })).toBe(
      'Invalid input: note: must be at most 500 characters',
    );
    expect(await bad({ petId: ill.id, cleared: true, note: '   ' })).toBe(
      'Invalid input: note: must not be empty',
    );
    expect(await bad({ petId: ill.id, cleared: 'yes', note: 'Fine' })).toMatch(/^Invalid input: cleared: /);
    // Nothing was given: it still waits.
    const [wait] = await ctx.client.trpc.workflows.waits.query({ traceId, token: streamToken });
    expect(wait?.status).toBe('waiting');

    const given = await ctx.client.trpc.pets.vetClearance.mutate({
      petId: ill.id,
      cleared: true,
      note: 'y'.repeat(500),
    });
    expect(given.wait.input).toEqual({ cleared: true, note: 'y'.repeat(500) });
    expect((await watch.ended).end).toEqual({ kind: 'completed' });
  });

  test('with API_KEYS set, treat and vetClearance need a key; workflows.waits needs the stream token', async () => {
    await using ctx = await startTestApp({ env: { API_KEYS: KEY } });
    const keyed = ctx.newClient({ apiKey: KEY });
    const anonymous = ctx.newClient({ transport: 'sse' });
    const pet = await finishedPet({ ...ctx, client: keyed }, max);
    expect(await refusal(anonymous.trpc.pets.treat.mutate({ petId: pet.id }))).toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'An API key is required',
    });
    const { traceId, streamToken } = await keyed.trpc.pets.treat.mutate({ petId: pet.id });
    const watch = await openWorkflowWatch(ctx.url, 'sse', { traceId, token: streamToken });
    await watch.received(2);
    expect(
      await refusal(anonymous.trpc.pets.vetClearance.mutate({ petId: pet.id, cleared: true, note: 'Fine' })),
    ).toMatchObject({ code: 'UNAUTHORIZED', message: 'An API key is required' });
    expect(
      await refusal(anonymous.trpc.workflows.waits.query({ traceId, token: 'v2.forged' })),
    ).toMatchObject({
      code: 'UNAUTHORIZED',
    });
    expect(await anonymous.trpc.workflows.waits.query({ traceId, token: streamToken })).toHaveLength(1);
    await keyed.trpc.pets.vetClearance.mutate({ petId: pet.id, cleared: true, note: 'Fine' });
    expect((await watch.ended).end).toEqual({ kind: 'completed' });
  });
});

describe.each(backends)('a cancel during a wait ($name)', ({ env }) => {
  test('the wait ends, no step runs again, every watch ends with the cancelled event; the pet is free again', async () => {
    await using ctx = await startTestApp({ env: env() });
    const pet = await finishedPet(ctx, max);
    const { traceId, streamToken } = await ctx.client.trpc.pets.treat.mutate({ petId: pet.id });
    const watches = await Promise.all(
      TRANSPORTS.map((transport) => openWorkflowWatch(ctx.url, transport, { traceId, token: streamToken })),
    );
    await Promise.all(watches.map((watch) => watch.received(2)));

    const cancelled = await ctx.client.trpc.workflows.cancel.mutate({ traceId, token: streamToken });
    const ended = await Promise.all(watches.map((watch) => watch.ended));
    await ctx.app.engine.bus.onIdle();
    const stored = await storedLog(ctx.app.engine, traceId);
    expect(stored.map(row)).toEqual([
      started('Max'),
      waiting('Max'),
      ['workflow', 'cancelled', { message: 'Treatment workflow for Max was cancelled', stage: 'finished' }],
    ]);
    expect(stored.at(-1)?.eventId).toBe(cancelled.eventId);
    for (const [i, watch] of ended.entries()) {
      expect(watch.end, TRANSPORTS[i]).toEqual({ kind: 'completed' });
      expectExactlyOnceInOrder(watch.events, stored, { label: TRANSPORTS[i] });
    }
    const [wait] = await ctx.client.trpc.workflows.waits.query({ traceId, token: streamToken });
    expect(wait).toMatchObject({ status: 'cancelled', input: null, by: null });
    expect(await traceEntries(ctx.app.engine, traceId, ['wait_ended'])).toMatchObject([
      { kind: 'wait_ended', name: 'vetClearance', status: 'cancelled', by: null },
    ]);
    // Nothing can resume it: the input is refused, and the step never ran again.
    await expect(
      ctx.app.engine.waits.answer(traceId, 'vetClearance', { cleared: true, note: 'Too late' }, 'vet'),
    ).rejects.toThrow('The workflow no longer waits for vetClearance: it was cancelled');
    const trace = await ctx.app.engine.observability.traces.get(traceId);
    expect(trace?.stepRuns.map((run) => run.status)).toEqual(['waiting']);
    expect((await ctx.client.pets.get.query({ id: pet.id })).status).toBe('ill');
    expect(
      await refusal(ctx.client.trpc.pets.vetClearance.mutate({ petId: pet.id, cleared: true, note: 'Fine' })),
    ).toEqual({
      code: 'CONFLICT',
      message: `Pet Max (ID: ${pet.id}) is not in treatment: start one with pets.treat`,
    });
    expect((await ctx.client.trpc.pets.treat.mutate({ petId: pet.id })).traceId).not.toBe(traceId);
  });
});
