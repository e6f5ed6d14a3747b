/**
 * A workflow's trace is whole on every instance of one Redis: two servers of
 * the same application share Redis and key prefix; workflows started on A
 * have a step run on A and a step run on B (A's attempt is interrupted by
 * its shutdown of steps and handed to B). `traces.get` answers the same
 * whole timeline on A and on B, every step run, emit and stream write of
 * the workflow in seq order, ending in `workflow_finished`; and each
 * instance's `onFinished` resolves.
 */
import { afterAll, describe, expect, test } from 'vitest';

import type { Trace, TraceEntry } from '../../shared/trace.js';
import { reply, startFakeOpenAI } from '../support/fake-openai.js';
import { buddy, max } from '../support/pets.js';
import { deleteKeys, randomKeyPrefix, storedEvents, TEST_REDIS_URL } from '../support/redis.js';
import { holdingEnrichment } from '../support/holding-steps.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { traceEntry } from '../support/trace-entries.js';

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };

const ENRICHMENT = 'AiProfileEnrichment';
const FEEDING = 'FeedingReminder';

/** The entries of one kind, in seq order. */
const kinds = (trace: Trace, kind: TraceEntry['kind']) => trace.entries.filter((e) => e.kind === kind);

describe('traces on two instances of one Redis', () => {
  test('workflows started on A, steps run on A and on B: the same whole timeline on both', async () => {
    await using a = await startTestApp({ env, steps: holdingEnrichment });
    const runs = [];
    for (const pet of [max, buddy]) runs.push({ pet, created: await a.client.pets.create.mutate(pet) });
    for (const { created } of runs) {
      // The enrichment step is held on A (its handler runs from the moment its start is recorded) ...
      await traceEntry(a, created.traceId, (e) => e.kind === 'step_started' && e.step === ENRICHMENT);
      // ... and the feeding step ran whole on A.
      await a.waitForLog(
        (line) => line.traceId === created.traceId && line.msg === '✅ Next feeding reminder set',
      );
    }

    // B joins; A stops running steps: its held attempts go back to their queue, and B runs them.
    await using b = await startTestApp({ env });
    await a.app.engine.stopSteps(0);

    for (const { created, pet } of runs) {
      const { traceId } = created;
      const [onA, onB] = await Promise.all([
        a.app.engine.workflows.onFinished(traceId),
        b.app.engine.workflows.onFinished(traceId),
      ]);
      expect(onA).toEqual(onB);
      expect(onA.outcomes).toEqual({ [FEEDING]: 'succeeded', [ENRICHMENT]: 'succeeded' });
      expect(onA.finishedAt).not.toBeNull();
      // The last entry a workflow gets is the write of its finished event (by B); what came before is written by then.
      await traceEntry(a, traceId, (e) => e.kind === 'stream_write' && e.eventKind === 'finished');

      const input = { traceId, token: created.streamToken };
      const fromA = await a.client.trpc.traces.get.query(input);
      const fromB = await b.client.trpc.traces.get.query(input);
      expect(fromB).toEqual(fromA);
      const trace = fromA;

      expect(trace).toMatchObject({
        traceId,
        flow: 'petCreation',
        subject: pet.name,
        status: 'finished',
        failedSteps: 0,
        droppedEntries: 0,
        entryCount: trace.entries.length,
      });
      // One numbering, in order, none missing.
      expect(trace.entries.map((e) => e.seq)).toEqual(trace.entries.map((_, i) => i + 1));
      expect(trace.entries[0]).toMatchObject({
        kind: 'workflow_started',
        flow: 'petCreation',
        subject: pet.name,
        steps: [FEEDING, ENRICHMENT],
      });
      expect(kinds(trace, 'workflow_finished')).toEqual([
        expect.objectContaining({ outcomes: { [FEEDING]: 'succeeded', [ENRICHMENT]: 'succeeded' } }),
      ]);

      // Every write of the workflow's log, in its order, from both instances.
      const log = await storedEvents(prefix, null, traceId);
      expect(log.map((event) => event.stream)).toContain('petProfile');
      expect(
        kinds(trace, 'stream_write').map((e) =>
          e.kind === 'stream_write' ? [e.stream, e.eventId, e.itemId, e.eventKind, e.data] : [],
        ),
      ).toEqual(log.map((event) => [event.stream, event.eventId, event.itemId, event.kind, event.data]));
      expect(trace.entries.at(-1)).toMatchObject({ kind: 'stream_write', eventKind: 'finished' });

      // Every emit: the starter's two on A, the feeding step's on A.
      expect(
        kinds(trace, 'emit')
          .map((e) => (e.kind === 'emit' ? e.topic : ''))
          .sort(),
      ).toEqual(['feeding.reminder.completed', 'feeding.reminder.enqueued', 'pet.created']);

      // Every step run: feeding on A; enrichment started on A, interrupted there, then run whole on B.
      const stepEntries = trace.entries.flatMap((e) =>
        e.kind === 'step_started'
          ? [[e.step, 'started']]
          : e.kind === 'step_finished'
            ? [[e.step, e.status]]
            : [],
      );
      expect(stepEntries.filter(([step]) => step === FEEDING)).toEqual([
        [FEEDING, 'started'],
        [FEEDING, 'succeeded'],
      ]);
      expect(stepEntries.filter(([step]) => step === ENRICHMENT)).toEqual([
        [ENRICHMENT, 'started'],
        [ENRICHMENT, 'interrupted'],
        [ENRICHMENT, 'started'],
        [ENRICHMENT, 'succeeded'],
      ]);
      expect(trace.stepRuns.map((run) => [run.step, run.status]).sort()).toEqual(
        [
          [FEEDING, 'succeeded'],
          [ENRICHMENT, 'interrupted'],
          [ENRICHMENT, 'succeeded'],
        ].sort(),
      );
      // Where each ran: the feeding step on A only, the enrichment step's whole run on B only.
      const logged = (ctx: TestApp, msg: string) =>
        ctx.logs.filter((line) => line.traceId === traceId && line.msg === msg).length;
      expect([logged(a, '✅ Next feeding reminder set'), logged(b, '✅ Next feeding reminder set')]).toEqual([
        1, 0,
      ]);
      expect([
        logged(a, '✅ AI Profile Enrichment completed'),
        logged(b, '✅ AI Profile Enrichment completed'),
      ]).toEqual([0, 1]);
      // Log lines of both instances: A's interruption, B's enrichment.
      const lines = kinds(trace, 'log').map((e) => (e.kind === 'log' ? e.msg : ''));
      expect(lines).toContain(`⏸️ ${ENRICHMENT} interrupted by shutdown`);
      expect(lines).toContain('✅ AI Profile Enrichment completed');
      expect(lines).toContain('✅ Next feeding reminder set');
    }
  });

  test('an attempt that wrote on A and was retried on B: each write of the log once in the timeline', async () => {
    // A's model never answers: its enrichment attempt has written its first event, then waits.
    await using fake = await startFakeOpenAI();
    fake.enqueue(reply.hang());
    await using a = await startTestApp({ env: { ...env, ...fake.env() } });
    const created = await a.client.pets.create.mutate(max);
    const { traceId } = created;
    await traceEntry(a, traceId, (e) => e.kind === 'stream_write' && e.itemId === 'enrichment_started');
    await a.waitForLog((line) => line.traceId === traceId && line.msg === '✅ Next feeding reminder set');

    // B (no model) retries the attempt: its first write repeats A's, which storage keeps once.
    await using b = await startTestApp({ env });
    await a.app.engine.stopSteps(0);
    await Promise.all([
      a.app.engine.workflows.onFinished(traceId),
      b.app.engine.workflows.onFinished(traceId),
    ]);
    await traceEntry(a, traceId, (e) => e.kind === 'stream_write' && e.eventKind === 'finished');

    const input = { traceId, token: created.streamToken };
    const trace = await a.client.trpc.traces.get.query(input);
    expect(await b.client.trpc.traces.get.query(input)).toEqual(trace);
    const log = await storedEvents(prefix, null, traceId);
    expect(log.filter((event) => event.itemId === 'enrichment_started')).toHaveLength(1);
    expect(kinds(trace, 'stream_write').map((e) => (e.kind === 'stream_write' ? e.eventId : ''))).toEqual(
      log.map((event) => event.eventId),
    );
    expect(
      b.logs.some((line) => line.traceId === traceId && line.msg === '✅ AI Profile Enrichment completed'),
    ).toBe(true);
  });
});
