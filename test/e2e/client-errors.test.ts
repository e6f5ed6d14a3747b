import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';

import { describe, expect, test, vi } from 'vitest';

import { createPetClient, WatchError, type WatchStateChange } from '../../client/create-client.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { collect, SETTLES } from '../support/async.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy, luna } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { NodeEventSource, NodeWebSocket, startTestApp } from '../support/test-app.js';
import { petCreationOf, storedNow } from '../support/stored.js';

const UNKNOWN_TRACE_ID = '0123456789abcdef0123456789abcdef';

/**
 * A real HTTP hop in front of the app that can be switched to answer 503,
 * as a load balancer does while its backend is away. An EventSource that
 * gets a 503 gives up for good, so the watch must start a new one itself.
 */
async function startGateway(target: string) {
  const upstream = new URL(target);
  let down = false;
  const server = http.createServer((req, res) => {
    if (down) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('backend away');
      return;
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        pipeline(answer, res, () => res.destroy());
      },
    );
    forward.on('error', () => res.destroy());
    pipeline(req, forward, () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setDown: (value: boolean) => {
      down = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(['ws', 'sse'] as const)('watchPetCreation errors over %s', (transport) => {
  test('terminal answers end the watch with a typed WatchError, without retrying', async () => {
    await using ctx = await startTestApp();
    const client = ctx.newClient({ transport });
    const created = await client.pets.create.mutate(buddy);
    const other = await client.pets.create.mutate(luna);
    const cases = [
      { traceId: created.traceId, token: 'not-a-token', code: 'UNAUTHORIZED' },
      { traceId: created.traceId, token: '', code: 'UNAUTHORIZED' },
      { traceId: created.traceId, token: other.streamToken, code: 'FORBIDDEN' },
      {
        traceId: UNKNOWN_TRACE_ID,
        token: ctx.app.engine.tokens.issue('petCreation', UNKNOWN_TRACE_ID),
        code: 'NOT_FOUND',
      },
      { traceId: 'not-a-trace-id', token: created.streamToken, code: 'BAD_REQUEST' },
    ] as const;
    for (const { traceId, token, code } of cases) {
      const changes: WatchStateChange[] = [];
      const watch = client.watchPetCreation(traceId, token, { onStateChange: (c) => changes.push(c) });
      const error = await collect(watch).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WatchError);
      expect(error).toMatchObject({ code });
      // Not retried: no failed attempt is counted, the watch is closed at once.
      expect(changes.map((c) => c.failures)).not.toContain(1);
      expect(changes.map((c) => c.state)).not.toContain('reconnecting');
      expect(changes.at(-1)?.state).toBe('closed');
    }
    await vi.waitFor(() => expect(ctx.app.engine.backends.streamStorage.listenerCount()).toBe(0), SETTLES);
  });

  test('aborting the signal ends the iteration quietly and releases the subscription', async () => {
    const never = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('FeedingReminder', never.promise) });
    const client = ctx.newClient({ transport });
    const created = await client.pets.create.mutate(buddy);
    const abort = new AbortController();
    const watch = client.watchPetCreation(created.traceId, created.streamToken, { signal: abort.signal });
    const received: PetCreationEvent[] = [];
    for await (const event of watch) {
      received.push(event);
      if (event.itemId === 'completed') abort.abort();
    }
    // Created and the six enrichment events, as stored (ids are per workflow: the profile's events sit between them).
    expect(received).toHaveLength(7);
    expect(received).toEqual(await storedNow(ctx.app.engine, created.traceId));
    expect(watch.state).toBe('closed');
    await vi.waitFor(() => expect(ctx.app.engine.backends.streamStorage.listenerCount()).toBe(0), SETTLES);
    never.resolve();
  });

  test('closing the client ends its watches', async () => {
    const never = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('FeedingReminder', never.promise) });
    const client = ctx.newClient({ transport });
    const created = await client.pets.create.mutate(buddy);
    const received: PetCreationEvent[] = [];
    for await (const event of client.watchPetCreation(created.traceId, created.streamToken)) {
      received.push(event);
      if (event.itemId === 'completed') void client.close();
    }
    expect(received).toHaveLength(7);
    await vi.waitFor(() => expect(ctx.app.engine.backends.streamStorage.listenerCount()).toBe(0), SETTLES);
    never.resolve();
  });

  test('gives up with UNREACHABLE after maxRetries failed attempts in a row', async () => {
    // An address that turns every connection away, held for the whole test.
    await using nowhere = await startTcpProxy(null);
    const client = createPetClient({
      url: nowhere.url,
      transport,
      WebSocket: NodeWebSocket,
      EventSource: NodeEventSource,
      retryDelayMs: () => 5,
    });
    const failures: number[] = [];
    const watch = client.watchPetCreation(UNKNOWN_TRACE_ID, 'token', {
      maxRetries: 2,
      onStateChange: (c) => failures.push(c.failures),
    });
    const error = await collect(watch).catch((e: unknown) => e);
    await client.close();
    expect(error).toBeInstanceOf(WatchError);
    expect(error).toMatchObject({ code: 'UNREACHABLE' });
    expect(failures).toEqual([0, 1, 2, 3]);
  });
});

describe('watchPetCreation when the link gives up', () => {
  test('SSE refused by a gateway (503) while the backend is away: resubscribes from the last delivered event', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('FeedingReminder', feeding.promise) });
    const gateway = await startGateway(ctx.url);
    try {
      const client = ctx.newClient({ url: gateway.url, transport: 'sse' });
      const created = await client.pets.create.mutate(buddy);
      const failedTwice = createDeferred<void>();
      const errors: string[] = [];
      const watch = client.watchPetCreation(created.traceId, created.streamToken, {
        onStateChange: (c) => {
          if (c.error) errors.push(c.error.message);
          if (c.failures === 2) failedTwice.resolve();
        },
      });
      const received: PetCreationEvent[] = [];
      for await (const event of watch) {
        received.push(event);
        if (event.itemId !== 'completed') continue;
        gateway.setDown(true);
        ctx.app.destroyConnections();
        await failedTwice.promise;
        gateway.setDown(false);
        feeding.resolve();
      }
      expectCompleteWorkflow(received, buddy);
      expect(received).toEqual(await collect(petCreationOf(ctx.app.engine).subscribe(created.traceId)));
      expect(errors.length).toBeGreaterThanOrEqual(2);
    } finally {
      await gateway.close();
    }
  });
});

describe('createPetClient options', () => {
  test('are validated where they enter', () => {
    expect(() => createPetClient({ url: 'localhost:3000' })).toThrow('Expected `url` to be an http(s) URL');
    expect(() => createPetClient({ url: 'ftp://host' })).toThrow('Expected `url` to be an http(s) URL');
    expect(() => createPetClient({ url: 'http://host', transport: 'carrier-pigeon' as 'ws' })).toThrow(
      'Expected `transport` to be one of ws, sse, got `carrier-pigeon`',
    );
    expect(() => createPetClient({ url: 'http://host', apiKey: '' })).toThrow('Expected `apiKey`');
    const client = createPetClient({ url: 'http://host', transport: 'sse' });
    expect(() => client.watchPetCreation(UNKNOWN_TRACE_ID, 't', { maxRetries: -1 })).toThrow(
      'Expected `maxRetries` to be an integer >= 0 or Infinity, got `-1`',
    );
  });
});
