/**
 * A workflow that can no longer finish by itself (here: a step whose event
 * never comes, as when its queued work is lost) is stopped once it has run
 * WORKFLOW_MAX_RUNTIME_MS: the steps it still waits for count as failed, its
 * watchers get a final event saying so, and it stops counting as running.
 */
import { describe, expect, test } from 'vitest';

import { loadConfig, type ConfigError } from '../../server/engine/config.js';
import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { defineStep } from '../../server/engine/index.js';
import { aiEnrichmentStep } from '../../server/app/pet-shelter/pets/steps/ai-enrichment-step.js';
import { collect } from '../support/async.js';
import { buddy, enrichmentEvents, max } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';
import { openWorkflowWatch } from '../support/workflow-watch.js';

/** Waits for an event only the feeding step emits, and it is not running: this step never starts. */
const neverStarted = defineStep({
  name: 'NeverStarted',
  title: 'Never started',
  subscribes: 'feeding.reminder.completed',
  topics: petTopics,
  streams: { petCreation: petCreationStream },
  handler: async () => {},
});

describe('WORKFLOW_MAX_RUNTIME_MS', () => {
  test('a workflow still running past it is finished with an error naming the steps that did not finish', async () => {
    await using ctx = await startTestApp({
      steps: [aiEnrichmentStep, neverStarted],
      env: { STEP_TIMEOUT_MS: '100', WORKFLOW_MAX_RUNTIME_MS: '300', WORKFLOW_CHECK_INTERVAL_MS: '20' },
    });
    const created = await ctx.client.pets.create.mutate(buddy);
    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expect(events.map((e) => [e.itemId, e.data?.message])).toEqual([
      ['message', expect.stringMatching(/^Pet Buddy \(ID: \w+\) created successfully/)],
      ...enrichmentEvents('Buddy', true),
      ['workflow', 'Pet creation workflow for Buddy stopped after 300 ms: Never started did not finish'],
    ]);
    expect(events.at(-1)).toMatchObject({
      kind: 'finished',
      data: { stage: 'finished', progress: 100, error: true },
    });

    const state = await ctx.app.engine.workflows.get(created.traceId);
    expect(state?.outcomes).toEqual({ AiProfileEnrichment: 'succeeded', NeverStarted: 'dead' });
    expect(state?.finishedAt).not.toBeNull();
    expect((await ctx.app.engine.observability.stats()).workflows).toMatchObject({
      started: 1,
      finished: 1,
      running: 0,
    });
    expect(await ctx.app.engine.observability.metrics.text()).toContain(
      'pet_stream_workflows_finished_total{flow="petCreation",outcome="failed"} 1',
    );
    expect(ctx.logs.some((l) => l.msg === '❌ Workflow stopped: it ran past its longest run time')).toBe(
      true,
    );
    expect(ctx.app.engine.workflows.watchedCount).toBe(0);
  });

  test('time spent waiting for a person does not count: a waiting workflow is not stopped', async () => {
    await using ctx = await startTestApp({
      steps: [aiEnrichmentStep, neverStarted],
      env: { STEP_TIMEOUT_MS: '100', WORKFLOW_MAX_RUNTIME_MS: '300', WORKFLOW_CHECK_INTERVAL_MS: '20' },
    });
    const { pets } = ctx.app.engine.services;
    const ill = await pets.create(max);
    await pets.update(ill.id, { status: 'ill' });
    const treatment = await ctx.client.trpc.pets.treat.mutate({ petId: ill.id });
    const watch = await openWorkflowWatch(ctx.url, 'ws', {
      traceId: treatment.traceId,
      token: treatment.streamToken,
    });
    await watch.received(2);
    // A workflow started after it is stopped at its limit: the checks have run past the treatment's too.
    const created = await ctx.client.pets.create.mutate(buddy);
    await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expect((await ctx.app.engine.workflows.get(created.traceId))?.outcomes).toMatchObject({
      NeverStarted: 'dead',
    });
    expect((await ctx.app.engine.workflows.get(treatment.traceId))?.finishedAt).toBeNull();
    const [wait] = await ctx.app.engine.waits.list(treatment.traceId);
    expect(wait?.status).toBe('waiting');

    await ctx.client.trpc.pets.vetClearance.mutate({ petId: ill.id, cleared: true, note: 'Fine' });
    expect((await watch.ended).events.at(-1)?.data).toEqual({
      message: 'Treatment workflow finished for Max',
      stage: 'finished',
    });
    expect((await ctx.app.engine.workflows.get(treatment.traceId))?.outcomes).toEqual({
      VetClearance: 'succeeded',
    });
  });

  test('must be above STEP_TIMEOUT_MS, so that one step attempt always fits', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ STEP_TIMEOUT_MS: '1000', WORKFLOW_MAX_RUNTIME_MS: '1001' })).toEqual([]);
    expect(problems({ STEP_TIMEOUT_MS: '1000', WORKFLOW_MAX_RUNTIME_MS: '1000' })).toEqual([
      'WORKFLOW_MAX_RUNTIME_MS: must be above STEP_TIMEOUT_MS (1000) (got "1000")',
    ]);
    expect(problems({ WORKFLOW_CHECK_INTERVAL_MS: '9' })).toEqual([
      'WORKFLOW_CHECK_INTERVAL_MS: Too small: expected number to be >=10 (got "9")',
    ]);
    expect(loadConfig({}).workflows).toEqual({ maxRuntimeMs: 900_000, checkIntervalMs: 10_000 });
  });
});
