import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, test } from 'vitest';

import { createPetClient, type WatchStateChange } from '../../client/create-client.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { collect } from '../support/async.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { gatedSteps } from '../support/gated-steps.js';
import { max } from '../support/pets.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { tapTransports } from '../support/tapped-transports.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { petCreationOf } from '../support/stored.js';

// A restart keeps history only on Redis: both servers use the same Redis,
// key prefix and token secret (the test configuration fixes the secret).
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.all(prefixes.splice(0).map((prefix) => deleteKeys(prefix)));
});

describe.each(['ws', 'sse'] as const)('a server restart on Redis, watched over %s', (transport) => {
  test('the watch waits out the restart and resumes on the new server: nothing lost, nothing repeated', async () => {
    const prefix = randomKeyPrefix();
    prefixes.push(prefix);
    // No grace time: the shutdown interrupts the running step, which the new server then runs.
    const env = {
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      FEEDING_CHECK_DELAY_MS: '20',
      SHUTDOWN_TIMEOUT_MS: '0',
    };
    // On the first server the feeding step waits: the workflow is surely running when it stops.
    const never = createDeferred<void>();
    const first = await startTestApp({ env, steps: gatedSteps('FeedingReminder', never.promise) });
    // The client's address stays the same across the restart: a proxy in front of whichever server runs.
    await using proxy = await startTcpProxy((first.app.server.address() as AddressInfo).port);
    let second: TestApp | undefined;
    // What the server sent on each connection, before the watch's dedupe.
    const tap = tapTransports();
    const client = createPetClient({
      url: proxy.url,
      transport,
      WebSocket: tap.WebSocket,
      EventSource: tap.EventSource,
      retryDelayMs: () => 20,
    });
    try {
      const created = await client.pets.create.mutate(max);
      const changes: WatchStateChange[] = [];
      const unreachable = createDeferred<void>();
      const watch = client.watchPetCreation(created.traceId, created.streamToken, {
        onStateChange: (change) => {
          changes.push(change);
          if (change.failures >= 2) unreachable.resolve();
        },
      });
      const received: PetCreationEvent[] = [];
      for await (const event of watch) {
        received.push(event);
        if (received.length !== 1) continue;
        // Graceful shutdown, a moment with nothing listening, then a new process behind the same address.
        proxy.point(null);
        await first[Symbol.asyncDispose]();
        await unreachable.promise;
        second = await startTestApp({ env });
        proxy.point((second.app.server.address() as AddressInfo).port);
      }

      expectCompleteWorkflow(received, max);
      if (!second) throw new Error('the server was not restarted');
      const stored = await collect(petCreationOf(second.app.engine).subscribe(created.traceId));
      expect(received).toEqual(stored);
      expectExactlyOnceInOrder(tap.events(), stored, { label: 'sent by the two servers' });
      expect(changes.filter((c) => c.state === 'reconnecting').length).toBeGreaterThanOrEqual(2);
      expect(changes.at(-1)?.state).toBe('closed');
      expect((await client.pets.get.query({ id: created.pet.id })).status).toBe('ill');
    } finally {
      never.resolve();
      await client.close();
      await first[Symbol.asyncDispose]();
      await second?.[Symbol.asyncDispose]();
    }
  });
});
