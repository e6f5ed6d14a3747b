/**
 * Latest-only watching: `workflows.onUpdate({ …, from: 'latest' })` and
 * `/workflows/<traceId>/events?from=latest` give each item's current value
 * once, then the live events; a resume continues the log after its id. On
 * every transport, on memory and on Redis, asserted on what the server sends
 * against current values worked out from the stored log.
 */
import { afterAll, describe, expect, test } from 'vitest';

import { createDeferred } from '../../shared/deferred.js';
import { compareEventIds, isEndKind, type StreamEvent } from '../../shared/stream-event.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { gatedSteps } from '../support/gated-steps.js';
import { max } from '../support/pets.js';
import { bothBackends, deleteKeys, randomKeyPrefix } from '../support/redis.js';
import { storedLog } from '../support/stored.js';
import { startTestApp } from '../support/test-app.js';
import { openWorkflowWatch, TRANSPORTS, watchWorkflow } from '../support/workflow-watch.js';

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

type Event = StreamEvent<unknown>;

/** What a latest-only watch of `log` starts with: each item's last `set` (none after a delete), in log order, then the end. */
function currentValues(log: readonly Event[], streams?: readonly string[]): Event[] {
  const items = new Map<string, Event>();
  for (const event of log) {
    const key = `${event.stream}/${event.itemId}`;
    if (event.kind === 'set') items.set(key, event);
    if (event.kind === 'delete') items.delete(key);
  }
  const values = [...items.values()]
    .filter((event) => streams === undefined || streams.includes(event.stream))
    .sort((a, b) => compareEventIds(a.eventId, b.eventId));
  return [...values, ...log.filter((event) => isEndKind(event.kind))];
}

describe.each(bothBackends(prefix))('latest-only watching ($name)', ({ env }) => {
  test('a finished workflow: each item’s current value once, then the finished event, on every transport and stream filter', async () => {
    await using ctx = await startTestApp({ env });
    const created = await ctx.client.pets.create.mutate(max);
    await ctx.app.engine.workflows.onFinished(created.traceId);
    const log = await storedLog(ctx.app.engine, created.traceId);
    // The feeding step overwrote its item: the history is longer than the current state.
    expect(currentValues(log).length).toBeLessThan(log.length);
    for (const streams of [undefined, ['petCreation'], ['petProfile']]) {
      for (const transport of TRANSPORTS) {
        const label = `${transport} ${streams?.join() ?? 'all'}`;
        const watch = await watchWorkflow(ctx.url, transport, {
          traceId: created.traceId,
          token: created.streamToken,
          from: 'latest',
          ...(streams ? { streams } : {}),
        });
        expect(watch.end, label).toEqual({ kind: 'completed' });
        expect(watch.events, label).toEqual(currentValues(log, streams));
      }
    }
  });

  test('a running workflow: the current values, then every live event; a resume after any of them continues the log', async () => {
    const gate = createDeferred<void>();
    await using ctx = await startTestApp({ env, steps: gatedSteps('AiProfileEnrichment', gate.promise) });
    const created = await ctx.client.pets.create.mutate(max);
    const request = { traceId: created.traceId, token: created.streamToken, from: 'latest' } as const;
    await ctx.waitForLog(
      (line) => line.traceId === created.traceId && line.msg === '✅ Next feeding reminder set',
    );
    const before = await storedLog(ctx.app.engine, created.traceId);
    const snapshot = currentValues(before);
    const watches = await Promise.all(
      TRANSPORTS.map((transport) => openWorkflowWatch(ctx.url, transport, request)),
    );
    await Promise.all(watches.map((watch) => watch.received(snapshot.length)));
    gate.resolve();
    await ctx.app.engine.workflows.onFinished(created.traceId);

    const log = await storedLog(ctx.app.engine, created.traceId);
    const live = log.slice(before.length);
    expect(live.length).toBeGreaterThan(0);
    for (const [i, watch] of (await Promise.all(watches.map((w) => w.ended))).entries()) {
      const label = TRANSPORTS[i] ?? '';
      expect(watch.end, label).toEqual({ kind: 'completed' });
      expect(watch.events, label).toEqual([...snapshot, ...live]);
    }

    // With a resume point, `from: 'latest'` resumes the log after it, as any subscription.
    for (const event of snapshot) {
      for (const transport of TRANSPORTS) {
        const label = `${transport} resumed after ${event.eventId}`;
        const watch = await watchWorkflow(ctx.url, transport, { ...request, lastEventId: event.eventId });
        expect(watch.end, label).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(watch.events, log, { after: event.eventId, label });
      }
    }
  });

  test('`from` other than start or latest is BAD_REQUEST naming it', async () => {
    await using ctx = await startTestApp({ env });
    const created = await ctx.client.pets.create.mutate(max);
    const watch = await watchWorkflow(ctx.url, 'sse', {
      traceId: created.traceId,
      token: created.streamToken,
      from: 'newest' as 'latest',
    });
    expect(watch.end).toMatchObject({ kind: 'error', code: 'BAD_REQUEST' });
    expect(watch.end.kind === 'error' ? watch.end.message : '').toContain('from');
  });
});
