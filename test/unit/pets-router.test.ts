import { describe, expect, test } from 'vitest';

import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { defineStep } from '../../server/engine/index.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { collect, untracked } from '../support/async.js';
import { createTestCaller } from '../support/caller.js';
import { rejection } from '../support/errors.js';
import { buddy, luna, max } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';

describe('pets router, in process', () => {
  test.each([max, luna, buddy])('$name: the workflow streams every step and finishes', async (pet) => {
    await using t = createTestCaller();
    const created = await t.caller.pets.create(pet);
    expect(created.stream.data?.message).toBe(
      `Pet ${pet.name} (ID: ${created.pet.id}) created successfully - Species: ${pet.species}, Age: ${pet.ageMonths} months, Status: new`,
    );
    const updates = await t.caller.petCreation.onUpdate({
      traceId: created.traceId,
      token: created.streamToken,
    });
    const events: PetCreationEvent[] = [];
    for await (const item of updates) events.push(untracked(item));
    expectCompleteWorkflow(events, pet);

    const stored = await t.caller.pets.get({ id: created.pet.id });
    expect(stored.status).toBe(pet.symptoms?.length ? 'ill' : 'healthy');
    expect(stored.nextFeedingAt).toBeDefined();
    expect(Date.parse(stored.nextFeedingAt ?? '') - Date.parse(stored.createdAt)).toBeGreaterThanOrEqual(
      24 * 3600 * 1000 - 1000,
    );
  });

  test('create answers while its steps are still running', async () => {
    const gate = createDeferred<void>();
    const started = createDeferred<void>();
    const blockedStep = defineStep({
      name: 'Blocked',
      title: 'Blocked step',
      topics: petTopics,
      subscribes: 'pet.created',
      streams: { petCreation: petCreationStream },
      async handler() {
        started.resolve();
        await gate.promise;
      },
    });
    await using t = createTestCaller({ steps: [blockedStep] });
    const created = await t.caller.pets.create(buddy);
    await started.promise;
    expect(created.pet.status).toBe('new');
    expect((await t.engine.workflows.get(created.traceId))?.finishedAt).toBeNull();
    gate.resolve();
    expect((await t.engine.workflows.onFinished(created.traceId)).outcomes).toEqual({
      Blocked: 'succeeded',
    });
  });

  test('ids are assigned by the server and list is newest first', async () => {
    await using t = createTestCaller();
    const a = await t.caller.pets.create(max);
    const b = await t.caller.pets.create(luna);
    expect([a.pet.id, b.pet.id]).toEqual(['1', '2']);
    expect((await t.caller.pets.list()).items.map((p) => p.name)).toEqual(['Luna', 'Max']);
    expect((await t.caller.pets.list({ limit: 1 })).items.map((p) => p.name)).toEqual(['Luna']);
  });

  test('unknown pet id is NOT_FOUND', async () => {
    await using t = createTestCaller();
    const error = await rejection(t.caller.pets.get({ id: '999' }));
    expect(error.code).toBe('NOT_FOUND');
  });

  test.each([
    [{ ...buddy, name: '   ' }, ['name']],
    [{ ...buddy, name: 'x'.repeat(101) }, ['name']],
    [{ ...buddy, species: 'dragon' }, ['species']],
    [{ ...buddy, ageMonths: -1 }, ['ageMonths']],
    [{ ...buddy, ageMonths: 601 }, ['ageMonths']],
    [{ ...buddy, ageMonths: 1.5 }, ['ageMonths']],
    [{ ...buddy, weightKg: 0 }, ['weightKg']],
    [{ ...buddy, weightKg: 1001 }, ['weightKg']],
    [{ ...buddy, symptoms: [''] }, ['symptoms']],
    [{ ...buddy, symptoms: Array.from({ length: 21 }, (_, i) => `s${i}`) }, ['symptoms']],
    [{ ...buddy, symptoms: ['y'.repeat(101)] }, ['symptoms']],
    [{ name: '', species: 'fish', ageMonths: 'old' }, ['name', 'species', 'ageMonths']],
    [{ ...buddy, isAdmin: true }, []],
  ])('bad input %j is BAD_REQUEST naming %j, nothing stored', async (input, fields) => {
    await using t = createTestCaller();
    // @ts-expect-error deliberately malformed input
    const error = await rejection(t.caller.pets.create(input));
    expect(error.code).toBe('BAD_REQUEST');
    for (const field of fields) expect(error.message).toContain(field);
    expect((await t.caller.pets.list()).items).toEqual([]);
  });

  test('logs carry the trace id and the SPEC log lines', async () => {
    await using t = createTestCaller();
    const created = await t.caller.pets.create(max);
    await t.engine.workflows.onFinished(created.traceId);
    const lines = t.logs.filter((l) => l.traceId === created.traceId);
    const messages = lines.map((l) => l.msg);
    for (const expected of [
      '🐾 Pet created',
      '🔄 Setting next feeding reminder',
      '🤖 AI Profile Enrichment started',
      '✅ Next feeding reminder set',
      '✅ AI Profile Enrichment completed',
    ]) {
      expect(messages).toContain(expected);
    }
    expect(lines.find((l) => l.msg === '🔄 Setting next feeding reminder')?.step).toBe('FeedingReminder');
    expect(lines.find((l) => l.msg === '🤖 AI Profile Enrichment started')?.step).toBe('AiProfileEnrichment');
    expect(lines.find((l) => l.msg === '🐾 Pet created')?.step).toBe('CreatePetApi');
  });

  test('trace ids are unique and unguessable (128 random bits)', async () => {
    await using t = createTestCaller();
    const ids = new Set<string>();
    for (let i = 0; i < 50; i += 1) ids.add((await t.caller.pets.create(buddy)).traceId);
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });

  test('an aborted subscription leaves no listener behind', async () => {
    const controller = new AbortController();
    await using t = createTestCaller({ env: { FEEDING_CHECK_DELAY_MS: '60000' }, signal: controller.signal });
    const created = await t.caller.pets.create(buddy);
    const updates = await t.caller.petCreation.onUpdate({
      traceId: created.traceId,
      token: created.streamToken,
    });
    const first = await collect(updates, { limit: 1 });
    expect(first.map((item) => untracked(item).itemId)).toEqual(['message']);
    controller.abort();
    expect(t.engine.backends.streamStorage.listenerCount()).toBe(0);
  });
});
