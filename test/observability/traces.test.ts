import { randomBytes } from 'node:crypto';

import { describe, expect, test, vi } from 'vitest';

import { defineStep } from '../../server/engine/index.js';
import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { feedingReminderStep } from '../../server/app/pet-shelter/pets/steps/feeding-reminder-step.js';
import { createDeferred } from '../../shared/deferred.js';
import { TraceEntrySchema, type TraceEntry } from '../../shared/trace.js';
import { collect } from '../support/async.js';
import { createTestCaller } from '../support/caller.js';
import { rejection } from '../support/errors.js';
import { buddy, luna, max } from '../support/pets.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';

/** In process, a subscription yields tracked envelopes `[id, data]`; each entry is checked against its schema. */
function untrack(value: unknown): { readonly id: string; readonly entry: TraceEntry } {
  if (!Array.isArray(value) || typeof value[0] !== 'string') throw new Error('expected a tracked envelope');
  return { id: value[0], entry: TraceEntrySchema.parse(value[1]) };
}

/** Writes one event, then fails its first attempt: the retry replays that write. */
const flakyStep = defineStep({
  name: 'FlakyStep',
  title: 'Flaky step',
  topics: petTopics,
  subscribes: 'pet.created',
  streams: { petCreation: petCreationStream },
  async handler({ pet }, { streams, traceId, attempt }) {
    await streams.petCreation.set(traceId, 'flaky', { message: `Checked ${pet.name}` });
    if (attempt === 1) throw new Error('scale not calibrated');
  },
});

describe('traces', () => {
  test('a workflow trace holds both step runs, the emits, every stream write in order and the log lines', async () => {
    await using t = createTestCaller();
    const created = await t.caller.pets.create(buddy);
    await t.engine.workflows.onFinished(created.traceId);

    const trace = await t.caller.traces.get({ traceId: created.traceId, token: created.streamToken });
    expect(trace).toMatchObject({
      traceId: created.traceId,
      flow: 'petCreation',
      subject: 'Buddy',
      status: 'finished',
      failedSteps: 0,
      droppedEntries: 0,
      entryCount: trace.entries.length,
    });
    for (const entry of trace.entries) TraceEntrySchema.parse(entry);
    expect(trace.entries.map((e) => e.seq)).toEqual(trace.entries.map((_, i) => i + 1));

    // Every stream write, once, in the workflow log's own order (both of its streams).
    const stream = await collect(
      t.engine.workflowLog.pull(created.traceId, { after: null, streams: ['petCreation', 'petProfile'] }),
    );
    expect(new Set(stream.map((e) => e.stream))).toEqual(new Set(['petCreation', 'petProfile']));
    const writes = trace.entries.flatMap((e) => (e.kind === 'stream_write' ? [e] : []));
    expect(writes.map((w) => [w.stream, w.eventId, w.itemId, w.eventKind, w.data])).toEqual(
      stream.map((e) => [e.stream, e.eventId, e.itemId, e.kind, e.data]),
    );

    // One run per step, each with its timing.
    expect(trace.stepRuns.map((r) => [r.step, r.attempt, r.status, r.error]).sort()).toEqual([
      ['AiProfileEnrichment', 1, 'succeeded', null],
      ['FeedingReminder', 1, 'succeeded', null],
    ]);
    for (const run of trace.stepRuns) {
      expect(run.durationMs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(run.end ?? '')).toBeGreaterThanOrEqual(Date.parse(run.start));
    }
    // Each step's writes fall between its start and its end.
    const seqOf = (kind: string, step: string) =>
      trace.entries.find((e) => e.kind === kind && 'step' in e && e.step === step)?.seq ?? -1;
    for (const [step, stage] of [
      ['FeedingReminder', 'feeding'],
      ['AiProfileEnrichment', 'enrichment'],
    ] as const) {
      const stageWrites = writes.filter((w) => (w.data as { stage?: string }).stage === stage);
      expect(stageWrites.length).toBeGreaterThan(0);
      for (const write of stageWrites) {
        expect(write.seq).toBeGreaterThan(seqOf('step_started', step));
        expect(write.seq).toBeLessThan(seqOf('step_finished', step));
      }
    }

    expect(trace.entries.filter((e) => e.kind === 'emit').map((e) => e.topic)).toEqual([
      'pet.created',
      'feeding.reminder.enqueued',
      'feeding.reminder.completed',
    ]);
    const logs = trace.entries.flatMap((e) => (e.kind === 'log' ? [[e.step, e.msg]] : []));
    expect(logs).toEqual(
      expect.arrayContaining([
        ['CreatePetApi', '🐾 Pet created'],
        ['FeedingReminder', '🔄 Setting next feeding reminder'],
        ['FeedingReminder', '✅ Next feeding reminder set'],
        ['AiProfileEnrichment', '🤖 AI Profile Enrichment started'],
        ['AiProfileEnrichment', '✅ AI Profile Enrichment completed'],
      ]),
    );
    // Every line the workflow logged is in its trace, and nothing else.
    const logged = t.logs.filter((l) => l.traceId === created.traceId).map((l) => l.msg);
    expect(logs.map(([, msg]) => msg)).toEqual(logged);

    const kinds = trace.entries.map((e) => e.kind);
    expect(kinds.indexOf('workflow_started')).toBeLessThan(kinds.indexOf('stream_write'));
    expect(kinds.filter((k) => k === 'workflow_finished')).toHaveLength(1);
    expect(writes.at(-1)?.eventKind).toBe('finished');
  });

  test('a retried step shows each attempt with its error, and its replayed write is not traced twice', async () => {
    await using t = createTestCaller({
      steps: [feedingReminderStep, flakyStep],
      env: { STEP_MAX_ATTEMPTS: '3' },
    });
    const created = await t.caller.pets.create(max);
    await t.engine.workflows.onFinished(created.traceId);

    const trace = await t.caller.traces.get({ traceId: created.traceId, token: created.streamToken });
    expect(trace.stepRuns.filter((r) => r.step === 'FlakyStep')).toMatchObject([
      { attempt: 1, status: 'failed', error: 'Error: scale not calibrated' },
      { attempt: 2, status: 'succeeded', error: null },
    ]);
    const flakyWrites = trace.entries.filter((e) => e.kind === 'stream_write' && e.itemId === 'flaky');
    expect(flakyWrites).toHaveLength(1);
    expect(
      trace.entries.filter((e) => e.kind === 'log' && e.msg === '❌ FlakyStep failed, retrying'),
    ).toHaveLength(1);

    const stats = await t.caller.system.stats();
    expect(stats.steps.failures).toBe(1);
    expect(stats.steps.byStep['FlakyStep']).toMatchObject({ runs: 2, failures: 1 });
    expect(stats.steps.byStep['FeedingReminder']).toMatchObject({ runs: 1, failures: 0 });
    // The replayed write stored nothing, so it counts once: created, 3 feeding, 1 flaky, finished.
    expect(stats.eventsWritten.total).toBe(6);
  });

  test('a dead step marks the trace with its failure', async () => {
    const broken = defineStep({
      name: 'BrokenStep',
      title: 'Broken step',
      topics: petTopics,
      subscribes: 'pet.created',
      streams: { petCreation: petCreationStream },
      async handler() {
        throw new Error('always broken');
      },
    });
    await using t = createTestCaller({
      steps: [feedingReminderStep, broken],
      env: { STEP_MAX_ATTEMPTS: '2' },
    });
    const created = await t.caller.pets.create(buddy);
    await t.engine.workflows.onFinished(created.traceId);
    const trace = await t.caller.traces.get({ traceId: created.traceId, token: created.streamToken });
    expect(trace).toMatchObject({ status: 'finished', failedSteps: 1 });
    expect(trace.stepRuns.filter((r) => r.step === 'BrokenStep').map((r) => r.status)).toEqual([
      'failed',
      'failed',
    ]);
    expect(trace.entries.find((e) => e.kind === 'workflow_finished')).toMatchObject({
      outcomes: { BrokenStep: 'dead', FeedingReminder: 'succeeded' },
    });
  });

  test('reading a trace needs its stream token', async () => {
    await using t = createTestCaller();
    const first = await t.caller.pets.create(buddy);
    const second = await t.caller.pets.create(luna);

    expect((await rejection(t.caller.traces.get({ traceId: first.traceId }))).code).toBe('UNAUTHORIZED');
    expect((await rejection(t.caller.traces.get({ traceId: first.traceId, token: 'v2.x.1.y' }))).code).toBe(
      'UNAUTHORIZED',
    );
    expect(
      (await rejection(t.caller.traces.get({ traceId: first.traceId, token: second.streamToken }))).code,
    ).toBe('FORBIDDEN');
    const unknown = randomBytes(16).toString('hex');
    expect(
      (
        await rejection(
          t.caller.traces.get({ traceId: unknown, token: t.engine.tokens.issue('petCreation', unknown) }),
        )
      ).code,
    ).toBe('NOT_FOUND');
    expect(
      (await rejection(t.caller.traces.get({ traceId: 'not-a-trace-id', token: first.streamToken }))).code,
    ).toBe('BAD_REQUEST');
    const subscription = await t.caller.traces.onEvent({ traceId: first.traceId });
    expect((await rejection(subscription[Symbol.asyncIterator]().next())).code).toBe('UNAUTHORIZED');
  });

  test('traces.list pages through the kept traces, newest first', async () => {
    await using t = createTestCaller();
    const made = [];
    for (const pet of [max, luna, buddy]) {
      const created = await t.caller.pets.create(pet);
      await t.engine.workflows.onFinished(created.traceId);
      made.push(created.traceId);
    }
    const page1 = await t.caller.traces.list({ limit: 2 });
    expect(page1.items.map((s) => [s.traceId, s.subject, s.status])).toEqual([
      [made[2], 'Buddy', 'finished'],
      [made[1], 'Luna', 'finished'],
    ]);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await t.caller.traces.list({ limit: 2, cursor: page1.nextCursor });
    expect(page2.items.map((s) => s.traceId)).toEqual([made[0]]);
    expect(page2.nextCursor).toBeNull();
    // Summaries carry no entries.
    expect(Object.keys(page2.items[0] ?? {})).not.toContain('entries');
  });

  test('traces.onEvent replays the trace, then follows it live, and resumes after any entry', async () => {
    const gate = createDeferred<void>();
    const waiting = createDeferred<void>();
    const gated = defineStep({
      name: 'GatedStep',
      title: 'Gated step',
      topics: petTopics,
      subscribes: 'pet.created',
      streams: { petCreation: petCreationStream },
      async handler({ pet }, { streams, traceId, logger }) {
        waiting.resolve();
        await gate.promise;
        logger.info('gate opened');
        await streams.petCreation.set(traceId, 'gated', { message: `Gate passed for ${pet.name}` });
      },
    });
    const abort = new AbortController();
    await using t = createTestCaller({ steps: [gated], signal: abort.signal });
    const created = await t.caller.pets.create(buddy);
    await waiting.promise;

    const live = await t.caller.traces.onEvent({ traceId: created.traceId, token: created.streamToken });
    const seen: TraceEntry[] = [];
    let released = false;
    for await (const value of live) {
      const { id, entry } = untrack(value);
      expect(id).toBe(String(entry.seq));
      seen.push(entry);
      // History is replayed up to the running step; the rest arrives live.
      if (entry.kind === 'step_started' && !released) {
        released = true;
        gate.resolve();
      }
      // The workflow's last entry: its final event (the finish line is logged just before it).
      if (entry.kind === 'stream_write' && entry.eventKind === 'finished') break;
    }
    expect(released).toBe(true);
    const trace = await t.caller.traces.get({ traceId: created.traceId, token: created.streamToken });
    expect(seen).toEqual(trace.entries);
    expect(seen.map((e) => e.kind)).toContain('workflow_finished');

    const resumed = await t.caller.traces.onEvent({
      traceId: created.traceId,
      token: created.streamToken,
      lastEventId: '3',
    });
    const after: TraceEntry[] = [];
    for await (const value of resumed) {
      after.push(untrack(value).entry);
      if (after.length === trace.entries.length - 3) break;
    }
    expect(after).toEqual(trace.entries.slice(3));

    abort.abort();
    await vi.waitFor(() => expect(t.engine.observability.traces.listenerCount()).toBe(0));
  });

  test('a finished trace is dropped after the stream retention, and the trace count is bounded', async () => {
    await using t = createTestCaller({ env: { STREAM_RETENTION_MS: '0', TRACE_MAX_TRACES: '2' } });
    const created = await t.caller.pets.create(buddy);
    await t.engine.workflows.onFinished(created.traceId);
    await vi.waitFor(async () =>
      expect(
        (await rejection(t.caller.traces.get({ traceId: created.traceId, token: created.streamToken }))).code,
      ).toBe('NOT_FOUND'),
    );

    const gate = createDeferred<void>();
    const held = defineStep({
      name: 'Held',
      title: 'Held step',
      topics: petTopics,
      subscribes: 'pet.created',
      streams: { petCreation: petCreationStream },
      handler: () => gate.promise,
    });
    await using h = createTestCaller({ steps: [held], env: { TRACE_MAX_TRACES: '2' } });
    const ids = [];
    for (const pet of [max, luna, buddy]) ids.push((await h.caller.pets.create(pet)).traceId);
    const kept = await h.caller.traces.list({});
    expect(kept.items.map((s) => s.traceId)).toEqual([ids[2], ids[1]]);
    expect(h.engine.observability.traces.size()).toBe(2);
    gate.resolve();
  });
});

describe('traces on Redis backends', () => {
  test('the instance records the workflow in order with Redis event ids, and a replayed write of a retry once', async () => {
    const prefix = randomKeyPrefix();
    try {
      await using t = createTestCaller({
        steps: [feedingReminderStep, flakyStep],
        env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, STEP_MAX_ATTEMPTS: '3' },
      });
      const created = await t.caller.pets.create(max);
      await t.engine.workflows.onFinished(created.traceId);
      const stream = await collect(
        t.engine.workflowLog.pull(created.traceId, { after: null, streams: ['petCreation', 'petProfile'] }),
      );
      expect(stream[0]?.eventId).toMatch(/^\d+-\d+$/);

      // The last entries (the finish) may still be on their way when onFinished resolves elsewhere.
      await vi.waitFor(async () => {
        const trace = await t.caller.traces.get({ traceId: created.traceId, token: created.streamToken });
        const writes = trace.entries.flatMap((e) => (e.kind === 'stream_write' ? [e] : []));
        expect(writes.map((w) => [w.eventId, w.itemId])).toEqual(stream.map((e) => [e.eventId, e.itemId]));
        expect(
          trace.stepRuns.filter((r) => r.step === 'FlakyStep').map((r) => [r.attempt, r.status]),
        ).toEqual([
          [1, 'failed'],
          [2, 'succeeded'],
        ]);
      });
      expect((await t.caller.system.stats()).eventsWritten.total).toBe(stream.length);
    } finally {
      await deleteKeys(prefix);
    }
  });
});
