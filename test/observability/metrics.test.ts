import { describe, expect, test, vi } from 'vitest';

import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { petTopics } from '../../server/app/pet-shelter/pets/topics.js';
import { routeLabel } from '../../server/engine/observability/http-metrics.js';
import type { HttpRoute } from '../../server/engine/transport/http-routes.js';
import { defineStep } from '../../server/engine/index.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { collect } from '../support/async.js';
import { buddy } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';
import { parseSamples, valueOf, type Sample } from './prometheus-text.js';

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseSamples(await response.text());
}

const STREAM = { stream: 'petCreation' };

describe('metrics', () => {
  test('a workflow moves the counters: events written and delivered, step durations, workflows, requests', async () => {
    await using ctx = await startTestApp();
    const before = await scrape(ctx.url);
    expect(valueOf(before, 'pet_stream_stream_events_written_total', STREAM)).toBe(0);
    // Process metrics come with the service's own.
    expect(before.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(before.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);

    const created = await ctx.client.pets.create.mutate(buddy);
    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expect(events).toHaveLength(11);

    const after = await scrape(ctx.url);
    expect(valueOf(after, 'pet_stream_stream_events_written_total', STREAM)).toBe(11);
    // The profile's four fields go to the workflow's other stream, which this subscription does not watch.
    expect(valueOf(after, 'pet_stream_stream_events_written_total', { stream: 'petProfile' })).toBe(4);
    expect(valueOf(after, 'pet_stream_stream_events_delivered_total', { stream: 'petProfile' })).toBe(0);
    expect(valueOf(after, 'pet_stream_stream_events_delivered_total', STREAM)).toBe(11);
    for (const step of ['FeedingReminder', 'AiProfileEnrichment']) {
      expect(valueOf(after, 'pet_stream_step_duration_seconds_count', { step, status: 'succeeded' })).toBe(1);
      expect(valueOf(after, 'pet_stream_step_duration_seconds_count', { step, status: 'failed' })).toBe(0);
    }
    expect(valueOf(after, 'pet_stream_step_failures_total')).toBe(0);
    expect(valueOf(after, 'pet_stream_workflows_started_total', { flow: 'petCreation' })).toBe(1);
    expect(
      valueOf(after, 'pet_stream_workflows_finished_total', { flow: 'petCreation', outcome: 'succeeded' }),
    ).toBe(1);
    expect(valueOf(after, 'pet_stream_traces_stored')).toBe(1);
    expect(valueOf(after, 'pet_stream_ws_messages_received_total', { method: 'subscription' })).toBe(1);
    expect(
      valueOf(after, 'pet_stream_http_requests_total', { method: 'POST', route: '/trpc', status: '200' }),
    ).toBe(1);
    expect(
      valueOf(after, 'pet_stream_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }),
    ).toBe(1);
    // The subscription ended with the workflow.
    await vi.waitFor(async () =>
      expect(valueOf(await scrape(ctx.url), 'pet_stream_subscriptions_active', STREAM)).toBe(0),
    );

    // system.stats reads the same figures.
    const stats = await ctx.client.trpc.system.stats.query();
    expect(stats).toMatchObject({
      eventsWritten: { total: 15, byStream: { petCreation: 11, petProfile: 4 } },
      eventsDelivered: { total: 11, byStream: { petCreation: 11 } },
      activeSubscriptions: { total: 0 },
      workflows: { started: 1, finished: 1, running: 0 },
      steps: { runs: 2, failures: 0 },
      traces: 1,
    });
    expect(stats.requests.ws).toBeGreaterThanOrEqual(1);
    expect(stats.requests.http).toBeGreaterThanOrEqual(3);
  });

  test('live deliveries are timed, subscriptions and connections are counted while open', async () => {
    const gate = createDeferred<void>();
    const waiting = createDeferred<void>();
    const gated = defineStep({
      name: 'GatedStep',
      title: 'Gated step',
      topics: petTopics,
      subscribes: 'pet.created',
      streams: { petCreation: petCreationStream },
      async handler({ pet }, { streams, traceId }) {
        waiting.resolve();
        await gate.promise;
        for (const n of [1, 2, 3])
          await streams.petCreation.set(traceId, 'message', { message: `${pet.name} ${n}` });
      },
    });
    await using ctx = await startTestApp({ steps: [gated] });
    const created = await ctx.client.pets.create.mutate(buddy);
    await waiting.promise;

    const received: PetCreationEvent[] = [];
    const first = createDeferred<void>();
    const watching = (async () => {
      for await (const event of ctx.client.watchPetCreation(created.traceId, created.streamToken)) {
        received.push(event);
        first.resolve();
      }
    })();
    await first.promise;
    const open = await scrape(ctx.url);
    expect(valueOf(open, 'pet_stream_subscriptions_active', STREAM)).toBe(1);
    expect(valueOf(open, 'pet_stream_ws_connections')).toBe(1);
    expect((await ctx.client.trpc.system.stats.query()).connectedClients).toBe(1);

    gate.resolve();
    await watching;
    expect(received.map((e) => e.data?.message)).toEqual([
      expect.stringContaining('created successfully'),
      'Buddy 1',
      'Buddy 2',
      'Buddy 3',
      'Pet creation workflow finished for Buddy',
    ]);
    const done = await scrape(ctx.url);
    // The created event was history when the subscription began; the other four were live.
    expect(valueOf(done, 'pet_stream_stream_events_delivered_total', STREAM)).toBe(5);
    expect(valueOf(done, 'pet_stream_stream_delivery_lag_seconds_count', STREAM)).toBe(4);
    expect(valueOf(done, 'pet_stream_stream_delivery_lag_seconds_bucket', { ...STREAM, le: '+Inf' })).toBe(4);
    expect(valueOf(done, 'pet_stream_stream_delivery_lag_seconds_sum', STREAM)).toBeGreaterThanOrEqual(0);
    const stats = await ctx.client.trpc.system.stats.query();
    expect(stats.deliveryLag.count).toBe(4);
    expect(stats.deliveryLag.p95Ms).not.toBeNull();
  });

  test('each app counts on its own registry', async () => {
    await using first = await startTestApp();
    await using second = await startTestApp();
    await first.client.pets.create.mutate(buddy);
    const [a, b] = [await scrape(first.url), await scrape(second.url)];
    expect(valueOf(a, 'pet_stream_workflows_started_total')).toBe(1);
    expect(valueOf(b, 'pet_stream_workflows_started_total')).toBe(0);
  });

  test('HTTP requests are labelled by route, not by path, so labels stay few', () => {
    const handle: HttpRoute['handle'] = () => undefined;
    const routes: HttpRoute[] = [
      { method: 'GET', path: '/metrics', handle },
      { method: 'GET', path: /^\/pets\/streams\/(?<traceId>[^/]+)$/, handle },
      { method: 'GET', path: /^\/pets\/(?<id>[^/]+)$/, handle },
    ];
    expect(routeLabel(routes, 'GET', '/metrics?x=1')).toBe('/metrics');
    expect(routeLabel(routes, 'GET', '/pets/42')).toBe('/pets/:id');
    expect(routeLabel(routes, 'GET', '/pets/streams/abc')).toBe('/pets/streams/:traceId');
    expect(routeLabel(routes, 'GET', '/trpc/pets.create,pets.list')).toBe('/trpc');
    expect(routeLabel(routes, 'GET', '/random/path/1')).toBe('unmatched');
    expect(routeLabel(routes, 'POST', '/metrics')).toBe('unmatched');
  });
});
