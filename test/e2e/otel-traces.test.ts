/**
 * OpenTelemetry export: with OTEL_EXPORTER_OTLP_ENDPOINT set, each workflow
 * is one trace, posted as OTLP/HTTP JSON to a real receiver on loopback.
 * Its id is the workflow's trace id; the API call is the root span; each
 * step attempt is a span whose parent is the span that published its
 * message; every write of the workflow's log is an event of exactly one
 * span, and every emit an event of the span that published it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { afterAll, describe, expect, test } from 'vitest';

import { petCreationWorkflow } from '../../server/app/pet-shelter/pets/workflow.js';
import type { Engine } from '../../server/engine/create-engine.js';
import type { ApplicationServices, StepDefinition } from '../../server/engine/index.js';
import type { StoredEvent } from '../../server/engine/streams/storage.js';
import { createDeferred } from '../../shared/deferred.js';
import {
  SPAN_KIND,
  startOtlpReceiver,
  STATUS,
  type OtlpReceiver,
  type ReceivedSpan,
} from '../support/otlp-receiver.js';
import { max } from '../support/pets.js';
import { deleteKeys, randomKeyPrefix, storedEvents, TEST_REDIS_URL } from '../support/redis.js';
import { holdingEnrichment } from '../support/holding-steps.js';
import { startTestApp } from '../support/test-app.js';
import { traceEntry } from '../support/trace-entries.js';

type Step = StepDefinition<ApplicationServices>;

const ENRICHMENT = 'AiProfileEnrichment';
const FEEDING = 'FeedingReminder';

const otelEnv = (receiver: OtlpReceiver) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  OTEL_BSP_SCHEDULE_DELAY: '0',
});

const attemptSpans = (spans: readonly ReceivedSpan[], step: string) => spans.filter((s) => s.name === step);

/** The trace holds the root span and, for each step, an attempt span with this outcome. */
const hasOutcomes =
  (traceId: string, outcomes: Readonly<Record<string, readonly string[]>>) =>
  (spans: readonly ReceivedSpan[]) => {
    const ofTrace = spans.filter((s) => s.traceId === traceId);
    return (
      ofTrace.some((s) => s.parentSpanId === null) &&
      Object.entries(outcomes).every(([step, wanted]) => {
        const seen = attemptSpans(ofTrace, step).map((s) => s.attributes['workflow.outcome']);
        return wanted.every((outcome) => seen.includes(outcome));
      })
    );
  };

/** Each `stream.write` event of the trace, with the span it belongs to. */
function writeEvents(spans: readonly ReceivedSpan[]) {
  return spans.flatMap((span) =>
    span.events
      .filter((event) => event.name === 'stream.write')
      .map((event) => ({ span, attributes: event.attributes })),
  );
}

/**
 * Every write of the workflow's log is an event of exactly one span of its
 * trace, with its stream, item and kind; within a span, in log order.
 */
function expectWritesAsEvents(spans: readonly ReceivedSpan[], log: readonly StoredEvent[]) {
  const order = new Map(log.map((event, index) => [event.eventId, index]));
  const writes = writeEvents(spans);
  const byLogOrder = writes
    .map(({ attributes }) => attributes)
    .sort(
      (a, b) =>
        (order.get(String(a['stream.event_id'])) ?? -1) - (order.get(String(b['stream.event_id'])) ?? -1),
    );
  expect(byLogOrder).toEqual(
    log.map((event) => ({
      'stream.name': event.stream,
      'stream.event_id': event.eventId,
      'stream.item_id': event.itemId,
      'stream.event_kind': event.kind,
    })),
  );
  for (const span of spans) {
    const positions = writes
      .filter((write) => write.span === span)
      .map(({ attributes }) => order.get(String(attributes['stream.event_id'])) ?? -1);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  }
}

const emitsOf = (span: ReceivedSpan | undefined) =>
  (span?.events ?? [])
    .filter((e) => e.name === 'bus.emit')
    .map((e) => e.attributes['messaging.destination.name']);

async function storedLog(engine: Engine, traceId: string): Promise<readonly StoredEvent[]> {
  return (await engine.backends.streamStorage.readAfter(traceId, null)).events;
}

describe('OpenTelemetry traces on memory', () => {
  test('a whole pet creation: the call as root, one span per step attempt, writes and emits as events', async () => {
    await using receiver = await startOtlpReceiver();
    await using ctx = await startTestApp({ env: otelEnv(receiver) });
    const created = await ctx.client.pets.create.mutate(max);
    const { traceId } = created;
    await ctx.app.engine.workflows.onFinished(traceId);
    await receiver.waitFor(hasOutcomes(traceId, { [FEEDING]: ['succeeded'], [ENRICHMENT]: ['succeeded'] }));
    const log = await storedLog(ctx.app.engine, traceId);
    // Closing sends whatever is left: the trace is whole.
    await ctx.app.close();

    const spans = receiver.trace(traceId);
    expect(spans.map((s) => s.name).sort()).toEqual([ENRICHMENT, FEEDING, 'pets.create'].sort());
    const root = spans.find((s) => s.name === 'pets.create');
    expect(root).toMatchObject({
      parentSpanId: null,
      kind: SPAN_KIND.server,
      attributes: { 'workflow.trace_id': traceId, 'workflow.kind': 'petCreation' },
      status: { code: STATUS.unset },
      resource: { 'service.name': 'pet-stream' },
    });
    // The starter's first message, then its two emits, in that order.
    expect(
      root?.events.map((e) => [
        e.name,
        e.attributes['stream.item_id'] ?? e.attributes['messaging.destination.name'],
      ]),
    ).toEqual([
      ['stream.write', 'message'],
      ['bus.emit', 'pet.created'],
      ['bus.emit', 'feeding.reminder.enqueued'],
    ]);

    for (const [step, topic] of [
      [FEEDING, 'feeding.reminder.enqueued'],
      [ENRICHMENT, 'pet.created'],
    ] as const) {
      const [attempt, ...more] = attemptSpans(spans, step);
      expect(more).toEqual([]);
      expect(attempt).toMatchObject({
        traceId,
        parentSpanId: root?.spanId,
        kind: SPAN_KIND.consumer,
        attributes: {
          'workflow.trace_id': traceId,
          'workflow.step': step,
          'workflow.attempt': 1,
          'workflow.outcome': 'succeeded',
          'messaging.destination.name': topic,
        },
        status: { code: STATUS.unset },
      });
      // Inside the call's time for the root; each attempt starts after the call began.
      expect(attempt && root && attempt.startNs >= root.startNs).toBe(true);
    }
    expect(emitsOf(attemptSpans(spans, FEEDING)[0])).toEqual(['feeding.reminder.completed']);
    expect(emitsOf(attemptSpans(spans, ENRICHMENT)[0])).toEqual([]);
    expectWritesAsEvents(spans, log);
    // The final event is written by whichever step finished last, as the last event of its attempt.
    const last = log.at(-1);
    expect(last?.kind).toBe('finished');
    const finisher = writeEvents(spans).find((w) => w.attributes['stream.event_id'] === last?.eventId)?.span;
    expect([FEEDING, ENRICHMENT]).toContain(finisher?.name);
    expect(finisher?.events.at(-1)?.attributes['stream.event_kind']).toBe('finished');
    // The span's start and end bound its events.
    for (const span of spans) {
      for (const event of span.events)
        expect(event.timeNs >= span.startNs && event.timeNs <= span.endNs).toBe(true);
    }
  });

  test('a failed attempt and its retry: two spans, the first failed with its error, both children of the call', async () => {
    const failingOnce: readonly Step[] = petCreationWorkflow.steps.map((step) =>
      step.name === FEEDING
        ? {
            ...step,
            handle: async (data: unknown, context: Parameters<Step['handle']>[1]) => {
              if (context.attempt === 1) throw new Error('scale unreachable');
              await step.handle(data, context);
            },
          }
        : step,
    );
    await using receiver = await startOtlpReceiver();
    await using ctx = await startTestApp({ env: otelEnv(receiver), steps: failingOnce });
    const { traceId } = await ctx.client.pets.create.mutate(max);
    await ctx.app.engine.workflows.onFinished(traceId);
    await receiver.waitFor(
      hasOutcomes(traceId, { [FEEDING]: ['failed', 'succeeded'], [ENRICHMENT]: ['succeeded'] }),
    );
    const log = await storedLog(ctx.app.engine, traceId);
    await ctx.app.close();

    const spans = receiver.trace(traceId);
    const root = spans.find((s) => s.parentSpanId === null);
    expect(root?.name).toBe('pets.create');
    const attempts = attemptSpans(spans, FEEDING).sort(
      (a, b) => Number(a.attributes['workflow.attempt']) - Number(b.attributes['workflow.attempt']),
    );
    expect(
      attempts.map((s) => [
        s.attributes['workflow.attempt'],
        s.attributes['workflow.outcome'],
        s.status,
        s.parentSpanId,
      ]),
    ).toEqual([
      [1, 'failed', { code: STATUS.error, message: 'Error: scale unreachable' }, root?.spanId],
      [2, 'succeeded', { code: STATUS.unset, message: undefined }, root?.spanId],
    ]);
    // The failed attempt wrote nothing; the retry wrote the step's events.
    expect(attempts[0]?.events).toEqual([]);
    expect(emitsOf(attempts[1])).toEqual(['feeding.reminder.completed']);
    expectWritesAsEvents(spans, log);
  });

  test('a step that runs out of attempts: its attempts failed, then a span for giving up holds its failure message', async () => {
    const failing: readonly Step[] = petCreationWorkflow.steps.map((step) =>
      step.name === FEEDING
        ? {
            ...step,
            handle: () => Promise.reject(new Error('scale unreachable')),
          }
        : step,
    );
    await using receiver = await startOtlpReceiver();
    await using ctx = await startTestApp({
      env: { ...otelEnv(receiver), STEP_MAX_ATTEMPTS: '2' },
      steps: failing,
    });
    const { traceId } = await ctx.client.pets.create.mutate(max);
    const state = await ctx.app.engine.workflows.onFinished(traceId);
    expect(state.outcomes).toEqual({ [FEEDING]: 'dead', [ENRICHMENT]: 'succeeded' });
    await receiver.waitFor(
      (spans) =>
        hasOutcomes(traceId, { [FEEDING]: ['failed'], [ENRICHMENT]: ['succeeded'] })(spans) &&
        attemptSpans(spans, FEEDING).length === 2 &&
        spans.some((span) => span.name === `${FEEDING} dead`),
    );
    const log = await storedLog(ctx.app.engine, traceId);
    await ctx.app.close();

    const spans = receiver.trace(traceId);
    const root = spans.find((s) => s.parentSpanId === null);
    expect(
      attemptSpans(spans, FEEDING)
        .map((s) => [s.attributes['workflow.attempt'], s.attributes['workflow.outcome']])
        .sort(),
    ).toEqual([
      [1, 'failed'],
      [2, 'failed'],
    ]);
    const dead = spans.filter((s) => s.name === `${FEEDING} dead`);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      parentSpanId: root?.spanId,
      kind: SPAN_KIND.internal,
      attributes: { 'workflow.step': FEEDING, 'workflow.attempts': 2, 'workflow.outcome': 'dead' },
      status: { code: STATUS.error, message: 'scale unreachable' },
    });
    expect(dead[0]?.events.map((e) => e.attributes['stream.item_id'])).toContain(`failed_${FEEDING}`);
    expectWritesAsEvents(spans, log);
  });

  test('a workflow started outside any API call: its attempts are the roots of a trace with its id', async () => {
    await using receiver = await startOtlpReceiver();
    await using ctx = await startTestApp({ env: otelEnv(receiver) });
    const { engine } = ctx.app;
    const pet = await engine.services.pets.create(max);
    const run = await engine.workflows.start(petCreationWorkflow, { subject: pet.name, starter: 'Import' });
    await run.emit('pet.created', { pet });
    await run.emit('feeding.reminder.enqueued', { pet });
    await engine.workflows.onFinished(run.traceId);
    await receiver.waitFor(
      hasOutcomes(run.traceId, { [FEEDING]: ['succeeded'], [ENRICHMENT]: ['succeeded'] }),
    );
    const log = await storedLog(engine, run.traceId);
    await ctx.app.close();

    const spans = receiver.trace(run.traceId);
    expect(spans.map((s) => [s.name, s.parentSpanId]).sort()).toEqual([
      [ENRICHMENT, null],
      [FEEDING, null],
    ]);
    expectWritesAsEvents(spans, log);
  });

  test('the published message carries the W3C context of the span that published it', async () => {
    await using receiver = await startOtlpReceiver();
    await using ctx = await startTestApp({
      env: { ...otelEnv(receiver), OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20collector-key' },
    });
    const received = createDeferred<unknown>();
    ctx.app.engine.bus.consume('ContextProbe', 'pet.created', async (message) => received.resolve(message));
    const { traceId } = await ctx.client.pets.create.mutate(max);
    const message = await received.promise;
    await receiver.waitFor((spans) => spans.some((s) => s.traceId === traceId && s.parentSpanId === null));
    const root = receiver.trace(traceId).find((s) => s.parentSpanId === null);
    expect(message).toMatchObject({ traceId, context: { traceparent: `00-${traceId}-${root?.spanId}-01` } });
    // The configured headers go with every export.
    expect(receiver.lastHeaders()?.authorization).toBe('Bearer collector-key');
  });

  test('a collector that refuses: the failure is logged, the workflow finishes, the service keeps serving', async () => {
    await using receiver = await startOtlpReceiver({ refuseWith: 400 });
    await using ctx = await startTestApp({ env: otelEnv(receiver) });
    const created = await ctx.client.pets.create.mutate(max);
    await ctx.app.engine.workflows.onFinished(created.traceId);
    const warning = await ctx.waitForLog(
      (line) => line.msg === '⚠️ Trace export failed; these spans are dropped',
    );
    expect(warning['spans']).toEqual(expect.any(Number));
    expect(receiver.requests()).toBeGreaterThan(0);
    expect(await ctx.client.pets.get.query({ id: created.pet.id })).toMatchObject({ name: max.name });
    const next = await ctx.client.pets.create.mutate(max);
    expect((await ctx.app.engine.workflows.onFinished(next.traceId)).outcomes).toEqual({
      [FEEDING]: 'succeeded',
      [ENRICHMENT]: 'succeeded',
    });
  });

  test('without an endpoint: no SDK, messages carry no trace context, traces.get answers as ever', async () => {
    await using ctx = await startTestApp();
    expect(ctx.app.engine.config.otel).toBeNull();
    expect(ctx.app.engine.observability.tracing).toBeNull();
    const received = createDeferred<object>();
    ctx.app.engine.bus.consume('ContextProbe', 'pet.created', async (message) => received.resolve(message));
    const created = await ctx.client.pets.create.mutate(max);
    expect(Object.keys(await received.promise).sort()).toEqual([
      'data',
      'id',
      'publishedAt',
      'topic',
      'traceId',
    ]);
    await ctx.app.engine.workflows.onFinished(created.traceId);
    const trace = await ctx.client.trpc.traces.get.query({
      traceId: created.traceId,
      token: created.streamToken,
    });
    expect(trace.status).toBe('finished');
  });

  test('without an endpoint the SDK is never loaded; with one it is', async () => {
    const probe = new URL('../support/otel-sdk-probe.ts', import.meta.url);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', probe.pathname], {
      cwd: new URL('../..', import.meta.url),
      env: { PATH: process.env['PATH'] ?? '' },
    });
    expect(JSON.parse(stdout)).toEqual({ withoutEndpoint: false, withEndpoint: true });
  });
});

describe('OpenTelemetry traces across two instances of one Redis', () => {
  const prefix = randomKeyPrefix();
  afterAll(() => deleteKeys(prefix));
  const redisEnv = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };

  test('started on A, steps on A and B: one trace, every attempt a child of the call, context through BullMQ', async () => {
    await using receiver = await startOtlpReceiver();
    const env = { ...redisEnv, ...otelEnv(receiver) };
    await using a = await startTestApp({ env, steps: holdingEnrichment });
    const created = await a.client.pets.create.mutate(max);
    const { traceId } = created;
    // The enrichment attempt is held on A; the feeding step runs whole on A.
    await traceEntry(a, traceId, (e) => e.kind === 'step_started' && e.step === ENRICHMENT);
    await a.waitForLog((line) => line.traceId === traceId && line.msg === '✅ Next feeding reminder set');

    // B joins; A stops running steps: its held attempt goes back to its queue, and B runs it.
    await using b = await startTestApp({ env });
    await a.app.engine.stopSteps(0);
    await Promise.all([
      a.app.engine.workflows.onFinished(traceId),
      b.app.engine.workflows.onFinished(traceId),
    ]);
    await receiver.waitFor(
      hasOutcomes(traceId, { [FEEDING]: ['succeeded'], [ENRICHMENT]: ['interrupted', 'succeeded'] }),
    );
    const timeline = await b.client.trpc.traces.get.query({ traceId, token: created.streamToken });
    await Promise.all([a.app.close(), b.app.close()]);

    const spans = receiver.trace(traceId);
    const instanceOf = (span: ReceivedSpan | undefined) => span?.resource['service.instance.id'];
    const root = spans.find((s) => s.parentSpanId === null);
    expect(root).toMatchObject({ name: 'pets.create', attributes: { 'workflow.trace_id': traceId } });
    const onA = instanceOf(root);
    const feeding = attemptSpans(spans, FEEDING);
    const enrichment = attemptSpans(spans, ENRICHMENT);
    const held = enrichment.find((s) => s.attributes['workflow.outcome'] === 'interrupted');
    const done = enrichment.find((s) => s.attributes['workflow.outcome'] === 'succeeded');
    expect([spans.length, feeding.length, enrichment.length]).toEqual([4, 1, 2]);
    // Every attempt, on either instance, is a child of the call on A.
    for (const span of [...feeding, ...enrichment]) {
      expect(span).toMatchObject({ traceId, parentSpanId: root?.spanId, kind: SPAN_KIND.consumer });
    }
    expect([instanceOf(feeding[0]), instanceOf(held)]).toEqual([onA, onA]);
    expect(instanceOf(done)).toEqual(expect.any(String));
    expect(instanceOf(done)).not.toBe(onA);
    // An interrupted attempt is not a failure.
    expect(held?.status.code).toBe(STATUS.unset);
    // Attempt numbers as the timeline of traces.get records them.
    expect(
      [held, done].map((s) => [s?.attributes['workflow.attempt'], s?.attributes['workflow.outcome']]),
    ).toEqual(
      timeline.entries.flatMap((e) =>
        e.kind === 'step_finished' && e.step === ENRICHMENT ? [[e.attempt, e.status]] : [],
      ),
    );
    expectWritesAsEvents(spans, await storedEvents(prefix, null, traceId));
  });
});
