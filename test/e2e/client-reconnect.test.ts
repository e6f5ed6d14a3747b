import type { AddressInfo } from 'node:net';

import { afterAll, describe, expect, test, vi } from 'vitest';

import type { WatchStateChange } from '../../client/create-client.js';
import { createDeferred, type Deferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { collect, SETTLES } from '../support/async.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy, max } from '../support/pets.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { tapTransports } from '../support/tapped-transports.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { petCreationOf } from '../support/stored.js';

/** Records a watch's state changes and lets a test await the next one of a kind. */
function stateRecorder() {
  const changes: WatchStateChange[] = [];
  const waiters: { readonly accept: (c: WatchStateChange) => boolean; readonly deferred: Deferred<void> }[] =
    [];
  return {
    changes,
    onStateChange: (change: WatchStateChange) => {
      changes.push(change);
      for (const waiter of [...waiters]) {
        if (!waiter.accept(change)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.deferred.resolve();
      }
    },
    /** Resolves at the next change that `accept` accepts (from now on). */
    next: (accept: (c: WatchStateChange) => boolean) => {
      const deferred = createDeferred<void>();
      waiters.push({ accept, deferred });
      return deferred.promise;
    },
  };
}

/** The workflow's events as the server stores them, read in process. */
const serverLog = (ctx: TestApp, traceId: string) =>
  collect(petCreationOf(ctx.app.engine).subscribe(traceId));

// The feeding step pauses between its messages, so the workflow is in flight
// for a while after the quarantine message.
const IN_FLIGHT = { FEEDING_CHECK_DELAY_MS: '50' };

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

const cases = [
  { transport: 'ws', backend: 'memory', env: {} },
  { transport: 'sse', backend: 'memory', env: {} },
  { transport: 'ws', backend: 'redis', env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix } },
  { transport: 'sse', backend: 'redis', env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix } },
] as const;

// Each client's connections are tapped: besides what the watch delivers, the
// tests assert what the server sent, which the watch's dedupe would hide.
describe.each(cases)('watchPetCreation over $transport on $backend', ({ transport, env: backend }) => {
  test('resumes across repeated server-side connection drops: every event exactly once, in order', async () => {
    // The feeding step waits until the first three cuts are done, so they
    // all come mid-workflow (the first one while enrichment is writing);
    // the fourth comes during the feeding step's own pause.
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({
      env: { ...backend, ...IN_FLIGHT },
      steps: gatedSteps('FeedingReminder', feeding.promise),
    });
    const tap = tapTransports();
    const client = ctx.newClient({ transport, WebSocket: tap.WebSocket, EventSource: tap.EventSource });
    const created = await client.pets.create.mutate(max);
    const states = stateRecorder();
    const watch = client.watchPetCreation(created.traceId, created.streamToken, {
      onStateChange: states.onStateChange,
    });

    const received: PetCreationEvent[] = [];
    let drops = 0;
    for await (const event of watch) {
      received.push(event);
      if (received.length === 1 || received.length === 4 || received.length === 7) {
        expect(watch.state).toBe('open');
        const reopened = states.next((c) => c.state === 'open');
        ctx.app.destroyConnections();
        drops += 1;
        await reopened;
        if (drops === 3) feeding.resolve();
      } else if (event.data?.message === 'Pet Max entered quarantine period') {
        ctx.app.destroyConnections();
        drops += 1;
      }
    }

    expect(drops).toBe(4);
    expectCompleteWorkflow(received, max);
    const stored = await serverLog(ctx, created.traceId);
    expect(received).toEqual(stored);
    expectExactlyOnceInOrder(tap.events(), stored, { label: 'sent by the server' });
    if (transport === 'ws') expect(tap.sockets.length).toBeGreaterThanOrEqual(5);
    const sequence = states.changes.map((c) => c.state);
    expect(sequence[0]).toBe('connecting');
    expect(sequence.at(-1)).toBe('closed');
    expect(sequence.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(4);
    expect(sequence.filter((s) => s === 'open').length).toBeGreaterThanOrEqual(5);
    await vi.waitFor(() => expect(ctx.app.engine.backends.streamStorage.listenerCount()).toBe(0), SETTLES);
  });

  test('keeps retrying while the server is unreachable, then resumes where it stopped', async () => {
    // The feeding step waits until the server is reachable again: the workflow is surely still running then.
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({
      env: { ...backend, ...IN_FLIGHT },
      steps: gatedSteps('FeedingReminder', feeding.promise),
    });
    // The client reaches the server through a proxy that can turn it away.
    await using proxy = await startTcpProxy((ctx.app.server.address() as AddressInfo).port);
    const tap = tapTransports();
    const client = ctx.newClient({
      url: proxy.url,
      transport,
      WebSocket: tap.WebSocket,
      EventSource: tap.EventSource,
    });
    const created = await client.pets.create.mutate(buddy);
    const states = stateRecorder();
    const watch = client.watchPetCreation(created.traceId, created.streamToken, {
      onStateChange: states.onStateChange,
    });

    const received: PetCreationEvent[] = [];
    for await (const event of watch) {
      received.push(event);
      if (received.length !== 1) continue;
      // Turn every connection away and cut the open ones: every attempt now fails.
      const failedThrice = states.next((c) => c.state === 'reconnecting' && c.failures >= 3);
      const { port } = ctx.app.server.address() as AddressInfo;
      proxy.point(null);
      proxy.cut();
      await failedThrice;
      proxy.point(port);
      feeding.resolve();
    }

    expectCompleteWorkflow(received, buddy);
    const stored = await serverLog(ctx, created.traceId);
    expect(received).toEqual(stored);
    expectExactlyOnceInOrder(tap.events(), stored, { label: 'sent by the server' });
    const failures = states.changes.filter((c) => c.state === 'reconnecting').map((c) => c.failures);
    expect(failures.slice(0, 3)).toEqual([1, 2, 3]);
    expect(states.changes.at(-1)?.state).toBe('closed');
  });

  test('resumes from a given lastEventId: exactly the events after it', async () => {
    await using ctx = await startTestApp({ env: backend });
    const created = await ctx.client.pets.create.mutate(max);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expectCompleteWorkflow(all, max);

    const tap = tapTransports();
    const client = ctx.newClient({ transport, WebSocket: tap.WebSocket, EventSource: tap.EventSource });
    const after = all[5]?.eventId ?? '';
    const watch = client.watchPetCreation(created.traceId, created.streamToken, { lastEventId: after });
    expect(await collect(watch)).toEqual(all.slice(6));
    expect(watch.lastEventId).toBe(all.at(-1)?.eventId);
    expectExactlyOnceInOrder(tap.events(), all, { after, label: 'sent by the server' });
  });
});
