/**
 * Several real server processes on one real Redis: a workflow created on one
 * instance is watched on another; an instance killed mid-step hands its work
 * to another; every instance restarted loses nothing.
 */
import { afterAll, describe, expect, test } from 'vitest';

import type { PetClient } from '../../client/create-client.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { compareEventIds } from '../../shared/stream-event.js';
import { collect } from '../support/async.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { buddy, luna, max } from '../support/pets.js';
import { openRawWatch, SERVER_TRANSPORTS, type WatchRequest } from '../support/raw-watch.js';
import { deleteKeys, randomKeyPrefix, storedEvents, TEST_REDIS_URL } from '../support/redis.js';
import { startServerProcess } from '../support/server-process.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';

const prefixes: string[] = [];
afterAll(() => Promise.all(prefixes.map((prefix) => deleteKeys(prefix))));

/**
 * One deployment: `env` gives an instance's environment (every instance
 * shares Redis, prefix and token secret); `stored` reads a workflow's log
 * straight from Redis.
 */
function deployment() {
  const prefix = randomKeyPrefix();
  prefixes.push(prefix);
  return {
    env: (env: Record<string, string> = {}): Record<string, string> => ({
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      STREAM_TOKEN_SECRET: 'multi-instance-secret-at-least-32-characters',
      FEEDING_CHECK_DELAY_MS: '0',
      STEP_RETRY_BASE_MS: '0',
      STEP_LEASE_MS: '1000',
      SHUTDOWN_TIMEOUT_MS: '2000',
      ...env,
    }),
    stored: (traceId: string) => storedEvents(prefix, 'petCreation', traceId),
  };
}

/** On every transport of `url`, one raw watch of the whole workflow. */
function watchEverywhere(url: string, request: WatchRequest) {
  return Promise.all(
    SERVER_TRANSPORTS.map(async (transport) => {
      const watch = await openRawWatch(url, transport, request);
      return { transport, ...(await watch.ended) };
    }),
  );
}

/**
 * On every transport: watched on `from` until `cutAfter` events came, then
 * resumed on `to` with the last event id seen. Returns all that the two
 * servers sent, one after the other.
 */
function cutAndResumeEverywhere(from: string, to: string, request: WatchRequest, cutAfter: number) {
  return Promise.all(
    SERVER_TRANSPORTS.map(async (transport) => {
      const first = await openRawWatch(from, transport, request);
      await first.received(cutAfter);
      first.close();
      const before = first.events.slice(0, cutAfter);
      const second = await openRawWatch(to, transport, {
        ...request,
        lastEventId: before.at(-1)?.eventId ?? '',
      });
      const after = await second.ended;
      return { transport, events: [...before, ...after.events], end: after.end };
    }),
  );
}

/**
 * Every event the server sends on one subscription, without the client's
 * own de-duplication: what the server delivered, exactly.
 */
function subscribe(
  client: PetClient,
  input: { readonly traceId: string; readonly token: string; readonly lastEventId?: string },
  onEvent: (event: PetCreationEvent) => void = () => undefined,
): Promise<PetCreationEvent[]> {
  const events: PetCreationEvent[] = [];
  const done = createDeferred<PetCreationEvent[]>();
  const subscription = client.petCreation.onUpdate.subscribe(input, {
    onData: ({ data }) => {
      events.push(data);
      onEvent(data);
      if (data.kind === 'finished') done.resolve(events);
    },
    onError: (error) => done.reject(error),
  });
  return done.promise.finally(() => subscription.unsubscribe());
}

/** Several instances started at once, stopped (killed) together. */
async function startInstances(envs: readonly Record<string, string>[]) {
  const all = await Promise.all(envs.map((env) => startServerProcess(env)));
  const [first, second] = all;
  if (!first || !second) throw new Error('two instances expected');
  return {
    all: [first, second] as const,
    async [Symbol.asyncDispose]() {
      await Promise.all(all.map((instance) => instance[Symbol.asyncDispose]()));
    },
  };
}

function expectStrictlyIncreasingRedisIds(events: readonly PetCreationEvent[]): void {
  for (const event of events) expect(event.eventId).toMatch(/^\d+-\d+$/);
  for (let i = 1; i < events.length; i += 1) {
    expect(compareEventIds(events[i]?.eventId ?? '0', events[i - 1]?.eventId ?? '0')).toBe(1);
  }
}

/**
 * Each test starts several server processes, some one after another; each
 * start takes seconds on a busy machine, more than the default test timeout allows.
 */
const INSTANCES_TIMEOUT_MS = 90_000;

describe('several instances on one Redis', { timeout: INSTANCES_TIMEOUT_MS }, () => {
  test('created on A, watched on B: every event once, in order; B’s ids resume on A', async () => {
    const { env, stored } = deployment();
    // A short pause keeps the workflow running while B subscribes, so events also arrive live.
    await using instances = await startInstances([
      env({ FEEDING_CHECK_DELAY_MS: '100' }),
      env({ FEEDING_CHECK_DELAY_MS: '100' }),
    ]);
    const [a, b] = instances.all;
    const created = await a.newClient().pets.create.mutate(buddy);
    const request = { traceId: created.traceId, token: created.streamToken };

    // On B, live: the tRPC subscription without the client's dedupe, and every transport raw;
    // and on every transport, cut off on B after three events and resumed on A.
    const [events, onB, movedToA] = await Promise.all([
      subscribe(b.newClient(), request),
      watchEverywhere(b.url, request),
      cutAndResumeEverywhere(b.url, a.url, request, 3),
    ]);
    const log = await stored(created.traceId);
    expectCompleteWorkflow(events, buddy);
    expectStrictlyIncreasingRedisIds(events);
    expect(events[0]).toEqual(created.stream);
    expectExactlyOnceInOrder(events, log, { label: 'tRPC subscription on B' });
    for (const { transport, events: sent, end } of [...onB, ...movedToA]) {
      expect(end, transport).toEqual({ kind: 'completed' });
      expectExactlyOnceInOrder(sent, log, { label: transport });
    }

    // The real client, resuming on A with an id B gave it.
    const resumed = await collect(
      a
        .newClient()
        .watchPetCreation(created.traceId, created.streamToken, { lastEventId: events[4]?.eventId }),
    );
    expect(resumed).toEqual(events.slice(5));
    // And every transport, resuming on A from that id: exactly what follows it.
    for (const transport of SERVER_TRANSPORTS) {
      const watch = await openRawWatch(a.url, transport, {
        ...request,
        lastEventId: events[4]?.eventId ?? '',
      });
      expectExactlyOnceInOrder((await watch.ended).events, log, {
        after: events[4]?.eventId,
        label: transport,
      });
    }
    expect(await b.newClient().pets.get.query({ id: created.pet.id })).toMatchObject({
      status: 'healthy',
      notes: "Welcome to our pet store! We'll take great care of this pet.",
    });
  });

  test('A killed mid-step: B takes the step over after the lease, and the watcher sees each event once', async () => {
    const { env, stored } = deployment();
    // A would pause a minute between health-check messages: it is surely mid-step when killed.
    await using a = await startServerProcess(env({ FEEDING_CHECK_DELAY_MS: '60000' }));
    const created = await a.newClient().pets.create.mutate(max);
    await using b = await startServerProcess(env());

    const request = { traceId: created.traceId, token: created.streamToken };
    const quarantined = createDeferred<void>();
    const watched = subscribe(b.newClient(), request, (event) => {
      if (event.data?.message === 'Pet Max entered quarantine period') quarantined.resolve();
    });
    const rawOnB = watchEverywhere(b.url, request);
    await quarantined.promise;
    const linesBeforeKill = b.logs.length;
    await a.kill();

    const events = await watched;
    const log = await stored(created.traceId);
    expectCompleteWorkflow(events, max);
    expectStrictlyIncreasingRedisIds(events);
    expect(events.filter((e) => e.data?.message === 'Pet Max entered quarantine period')).toHaveLength(1);
    expectExactlyOnceInOrder(events, log, { label: 'tRPC subscription on B' });
    for (const { transport, events: sent, end } of await rawOnB) {
      expect(end, transport).toEqual({ kind: 'completed' });
      expectExactlyOnceInOrder(sent, log, { label: transport });
    }
    // B ran the feeding step again from the start, after A was gone; its idempotent writes repeated nothing.
    await b.waitForLog(
      (line) => line.traceId === created.traceId && line.msg === '✅ Next feeding reminder set',
    );
    const takenOver = b.logs.findIndex(
      (l) => l.traceId === created.traceId && l.msg === '🔄 Setting next feeding reminder',
    );
    expect(takenOver).toBeGreaterThanOrEqual(linesBeforeKill);
    expect(await b.newClient().pets.get.query({ id: created.pet.id })).toMatchObject({ status: 'ill' });
  });

  test('every instance restarted: pets, stream history and queued work survive, and tokens stay valid', async () => {
    const { env, stored } = deployment();

    // A finished workflow.
    await using first = await startServerProcess(env());
    const finished = await first.newClient().pets.create.mutate(luna);
    const history = await subscribe(first.newClient(), {
      traceId: finished.traceId,
      token: finished.streamToken,
    });
    expect(await first.stop()).toBe(0);

    // A workflow stopped mid-step by a graceful shutdown: past the grace time, its step goes back to the queue.
    await using second = await startServerProcess(
      env({ FEEDING_CHECK_DELAY_MS: '60000', SHUTDOWN_TIMEOUT_MS: '100' }),
    );
    const inFlight = await second.newClient().pets.create.mutate(buddy);
    const quarantined = createDeferred<void>();
    void subscribe(
      second.newClient(),
      { traceId: inFlight.traceId, token: inFlight.streamToken },
      (event) => {
        if (event.data?.message === 'Pet Buddy entered quarantine period') quarantined.resolve();
      },
    ).catch(() => undefined);
    await quarantined.promise;
    expect(await second.stop()).toBe(0);

    // No instance runs now. Two new ones start.
    await using instances = await startInstances([env(), env()]);
    const [a, b] = instances.all;
    const replayed = await subscribe(b.newClient(), {
      traceId: finished.traceId,
      token: finished.streamToken,
    });
    expect(replayed).toEqual(history);
    expectExactlyOnceInOrder(replayed, await stored(finished.traceId), {
      label: 'replayed after the restart',
    });
    expect(await a.newClient().pets.get.query({ id: finished.pet.id })).toMatchObject({
      name: 'Luna',
      status: 'ill',
    });
    expect((await a.newClient().pets.list.query()).items.map((p) => p.name)).toEqual(['Buddy', 'Luna']);

    const resumedWork = await subscribe(a.newClient(), {
      traceId: inFlight.traceId,
      token: inFlight.streamToken,
    });
    expectCompleteWorkflow(resumedWork, buddy);
    expectStrictlyIncreasingRedisIds(resumedWork);
    expectExactlyOnceInOrder(resumedWork, await stored(inFlight.traceId), { label: 'the resumed workflow' });
  });
});
