import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';

import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { defineStep } from '../../server/engine/index.js';
import { feedingReminderStep } from '../../server/app/pet-shelter/pets/steps/feeding-reminder-step.js';
import { createDeferred } from '../../shared/deferred.js';
import { transformer } from '../../shared/transformer.js';
import { collect } from '../support/async.js';
import { buddy, feedingMessages } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';

describe('step faults', () => {
  test('a step that always throws is retried, recorded as dead, and the workflow still finishes', async () => {
    let attempts = 0;
    const broken = defineStep({
      name: 'BrokenStep',
      title: 'Profile enrichment',
      subscribes: 'pet.created',
      topics: petTopics,
      streams: { petCreation: petCreationStream },
      async handler() {
        attempts += 1;
        throw new Error('database on fire');
      },
    });
    await using ctx = await startTestApp({
      steps: [feedingReminderStep, broken],
      env: { STEP_MAX_ATTEMPTS: '3' },
    });
    const created = await ctx.client.pets.create.mutate(buddy);
    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));

    expect(attempts).toBe(3);
    expect(
      events
        .filter((e) => e.itemId === 'message')
        .slice(1)
        .map((e) => e.data?.message),
    ).toEqual(feedingMessages(buddy));
    const failure = events.find((e) => e.itemId === 'failed_BrokenStep');
    expect(failure?.data).toMatchObject({
      message: '❌ Profile enrichment failed for Buddy; the workflow goes on without it',
      error: true,
    });
    // The internal error text stays in the logs, never in the stream.
    expect(JSON.stringify(events)).not.toContain('database on fire');
    expect(events.at(-1)).toMatchObject({
      kind: 'finished',
      data: { message: 'Pet creation workflow finished for Buddy with 1 failed step', error: true },
    });
    const dead = await ctx.app.engine.bus.deadLetters();
    expect(dead).toMatchObject([{ consumer: 'BrokenStep', attempts: 3, error: 'database on fire' }]);
    expect(dead[0]?.message.traceId).toBe(created.traceId);
    const failures = ctx.logs.filter(
      (l) => l.traceId === created.traceId && l.step === 'BrokenStep' && l.level === 50,
    );
    expect(failures.map((l) => l.msg)).toEqual([
      '❌ BrokenStep failed, retrying',
      '❌ BrokenStep failed, retrying',
      '❌ BrokenStep failed, no attempt left',
    ]);
  });

  test('a retried step does not repeat the stream events it already wrote', async () => {
    let attempts = 0;
    const flaky = defineStep({
      name: 'FlakyStep',
      title: 'Flaky step',
      subscribes: 'pet.created',
      topics: petTopics,
      streams: { petCreation: petCreationStream },
      async handler({ pet }, { streams, traceId }) {
        attempts += 1;
        await streams.petCreation.set(traceId, 'flaky', { message: `first write for ${pet.name}` });
        if (attempts < 3) throw new Error('transient');
        await streams.petCreation.set(traceId, 'flaky', { message: `second write for ${pet.name}` });
      },
    });
    await using ctx = await startTestApp({ steps: [flaky] });
    const created = await ctx.client.pets.create.mutate(buddy);
    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expect(attempts).toBe(3);
    expect(events.map((e) => e.data?.message)).toEqual([
      created.stream.data?.message,
      'first write for Buddy',
      'second write for Buddy',
      'Pet creation workflow finished for Buddy',
    ]);
    expect(await ctx.app.engine.bus.deadLetters()).toEqual([]);
  });

  test('a step that hangs times out, is retried, and the workflow finishes', async () => {
    let attempts = 0;
    const hanging = defineStep({
      name: 'HangingStep',
      title: 'Hanging step',
      subscribes: 'pet.created',
      topics: petTopics,
      streams: { petCreation: petCreationStream },
      handler: () => {
        attempts += 1;
        return new Promise<void>(() => {});
      },
    });
    await using ctx = await startTestApp({
      steps: [hanging],
      env: { STEP_TIMEOUT_MS: '20', STEP_MAX_ATTEMPTS: '2' },
    });
    const created = await ctx.client.pets.create.mutate(buddy);
    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expect(attempts).toBe(2);
    expect(events.at(-1)?.data?.message).toBe('Pet creation workflow finished for Buddy with 1 failed step');
  });
});

describe('graceful shutdown', () => {
  test('subscribers attached are told to reconnect and closed cleanly; the server stops', async () => {
    // The feeding step is still running at shutdown: it is interrupted once the (short) grace time ends.
    const ctx = await startTestApp({ env: { FEEDING_CHECK_DELAY_MS: '60000', SHUTDOWN_TIMEOUT_MS: '100' } });
    const created = await ctx.client.pets.create.mutate(buddy);

    const socket = new WebSocket(ctx.wsUrl);
    await new Promise((resolve) => socket.once('open', resolve));
    const frames: unknown[] = [];
    const firstEvent = createDeferred<void>();
    socket.on('message', (raw: Buffer) => {
      const frame: unknown = JSON.parse(raw.toString());
      frames.push(frame);
      if (frames.length === 2) firstEvent.resolve();
    });
    const closed = new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));
    socket.send(
      JSON.stringify({
        id: 1,
        method: 'subscription',
        params: {
          path: 'petCreation.onUpdate',
          input: transformer.serialize({ traceId: created.traceId, token: created.streamToken }),
        },
      }),
    );
    await firstEvent.promise; // 'started' and the created event

    await ctx[Symbol.asyncDispose]();
    expect(await closed).toBe(1001);
    expect(frames).toContainEqual({ id: null, method: 'reconnect' });
    await expect(fetch(`${ctx.url}/healthz`)).rejects.toThrow();
  });
});
