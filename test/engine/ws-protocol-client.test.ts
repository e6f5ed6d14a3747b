/**
 * Our WebSocket protocol server with tRPC's own client (createTRPCClient,
 * wsLink, createWSClient, superjson): every kind of call, errors,
 * subscription lifecycle, unsubscribe, reconnect and resume, connection params.
 */
import { createTRPCClient, createWSClient, TRPCClientError, wsLink, type TRPCClient } from '@trpc/client';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';

import { createDeferred } from '../../shared/deferred.js';
import { transformer } from '../../shared/transformer.js';
import { startOurServer, type OurServer } from './support/ws-servers.js';
import type { TestRouter } from './support/ws-test-router.js';

type Client = { readonly trpc: TRPCClient<TestRouter> } & AsyncDisposable;

function connect(server: OurServer, connectionParams?: Record<string, string>): Client {
  const wsClient = createWSClient({
    url: server.url,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 10,
    ...(connectionParams ? { connectionParams } : {}),
  });
  return {
    trpc: createTRPCClient<TestRouter>({ links: [wsLink({ client: wsClient, transformer })] }),
    async [Symbol.asyncDispose]() {
      await wsClient.close();
    },
  };
}

/** What a subscription's callbacks saw, in order. */
function lifecycle() {
  const seen: string[] = [];
  const done = createDeferred<void>();
  const started = createDeferred<void>();
  const failed = createDeferred<unknown>();
  const waiters = new Set<() => void>();
  return {
    seen,
    /** Resolves once `count` values have arrived. */
    async whenData(count: number): Promise<void> {
      while (seen.filter((s) => s.startsWith('data')).length < count) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
        });
      }
    },
    done: done.promise,
    started: started.promise,
    failed: failed.promise,
    callbacks: {
      onStarted: () => {
        seen.push('started');
        started.resolve();
      },
      onData: (value: unknown) => {
        seen.push(`data ${JSON.stringify(value)}`);
        for (const wake of waiters) wake();
      },
      onError: (error: unknown) => {
        seen.push(`error ${error instanceof TRPCClientError ? String(error.data?.code) : String(error)}`);
        failed.resolve(error);
        done.resolve();
      },
      onStopped: () => seen.push('stopped'),
      onComplete: () => {
        seen.push('complete');
        done.resolve();
      },
    },
  };
}

describe('with @trpc/client over wsLink', () => {
  test('queries and mutations, inputs and results through superjson', async () => {
    await using server = await startOurServer();
    await using client = connect(server);
    await expect(client.trpc.echo.query({ text: 'hi', at: new Date(3) })).resolves.toEqual({
      text: 'HI',
      at: new Date(3),
      length: 2,
    });
    await expect(client.trpc.add.mutate({ a: 2, b: 5 })).resolves.toBe(7);
    await expect(client.trpc.nested.ping.query()).resolves.toBe('pong');
  });

  test('errors arrive as TRPCClientError with the formatted shape', async () => {
    await using server = await startOurServer();
    await using client = connect(server);
    await expect(client.trpc.forbidden.query()).rejects.toMatchObject({
      name: 'TRPCClientError',
      message: 'Not yours',
      data: { code: 'FORBIDDEN', httpStatus: 403, path: 'forbidden', formatted: true, fieldErrors: null },
    });
    const invalid = await client.trpc.echo
      .query({ text: '', at: new Date(0) })
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(TRPCClientError);
    expect((invalid as TRPCClientError<TestRouter>).data).toMatchObject({
      code: 'BAD_REQUEST',
      fieldErrors: { text: [expect.stringContaining('>=1')] },
    });
    await expect(client.trpc.crash.query()).rejects.toMatchObject({
      data: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(server.errors.map((e) => [e.error.code, e.path, e.type])).toEqual([
      ['FORBIDDEN', 'forbidden', 'query'],
      ['BAD_REQUEST', 'echo', 'query'],
      ['INTERNAL_SERVER_ERROR', 'crash', 'query'],
    ]);
  });

  test('a subscription: started, each tracked event, stopped, complete', async () => {
    await using server = await startOurServer();
    await using client = connect(server);
    const sub = lifecycle();
    client.trpc.count.subscribe({ to: 3 }, sub.callbacks);
    await sub.done;
    expect(sub.seen).toEqual([
      'started',
      'data {"id":"1","data":{"n":1,"text":"event 1"}}',
      'data {"id":"2","data":{"n":2,"text":"event 2"}}',
      'data {"id":"3","data":{"n":3,"text":"event 3"}}',
      'stopped',
      'complete',
    ]);
  });

  test('a subscription that fails reaches onError with its code', async () => {
    await using server = await startOurServer();
    await using client = connect(server);
    const sub = lifecycle();
    client.trpc.failing.subscribe(undefined, sub.callbacks);
    const error = await sub.failed;
    expect(error).toMatchObject({ message: 'Broke after 2', data: { code: 'CONFLICT', path: 'failing' } });
    expect(sub.seen).toEqual([
      'started',
      'data {"id":"1","data":{"n":1}}',
      'data {"id":"2","data":{"n":2}}',
      'error CONFLICT',
    ]);
  });

  test('unsubscribing aborts the procedure and lets its source go', async () => {
    await using server = await startOurServer();
    await using client = connect(server);
    const ticks = lifecycle();
    const feed = lifecycle();
    const tickSub = client.trpc.forever.subscribe(undefined, ticks.callbacks);
    const feedSub = client.trpc.pushed.subscribe(undefined, feed.callbacks);
    await Promise.all([ticks.started, feed.started]);
    server.probe.ticks.emit('tick', 1);
    server.probe.feed.publish('1', { n: 1, text: 'a' });
    tickSub.unsubscribe();
    feedSub.unsubscribe();
    await server.probe.until((p) => p.aborted.length === 2);
    await server.probe.feed.whenConsumers(0);
    expect([...server.probe.aborted].sort()).toEqual(['forever', 'pushed']);
    await server.probe.until((p) => p.finished.includes('forever'));
    expect(server.probe.ticks.listenerCount('tick')).toBe(0);
  });

  test('after the server drops the socket, the client reconnects and resumes after its last event', async () => {
    await using server = await startOurServer();
    await using client = connect(server);
    const sub = lifecycle();
    const { feed } = server.probe;
    client.trpc.pushed.subscribe(undefined, sub.callbacks);
    await sub.started;
    feed.publish('1', { n: 1, text: 'a' });
    feed.publish('2', { n: 2, text: 'b' });
    await sub.whenData(2);
    server.dropConnections();
    await server.probe.until((p) => p.inputs.length === 2);
    await feed.whenConsumers(1);
    feed.publish('3', { n: 3, text: 'c' });
    feed.end();
    await sub.done;
    expect(server.probe.inputs).toEqual([undefined, { lastEventId: '2' }]);
    expect(sub.seen.filter((s) => s.startsWith('data'))).toEqual([
      'data {"id":"1","data":{"n":1,"text":"a"}}',
      'data {"id":"2","data":{"n":2,"text":"b"}}',
      'data {"id":"3","data":{"n":3,"text":"c"}}',
    ]);
    expect(sub.seen.at(-1)).toBe('complete');
  });

  test('the reconnect notification moves subscriptions to a new connection without losing an event', async () => {
    await using server = await startOurServer();
    await using client = connect(server);
    const sub = lifecycle();
    const { feed } = server.probe;
    client.trpc.pushed.subscribe(undefined, sub.callbacks);
    await sub.started;
    feed.publish('1', { n: 1, text: 'a' });
    server.ws.broadcastReconnectNotification();
    // The client subscribes on a new socket (resuming after "1"), then stops the old subscription.
    await server.probe.until((p) => p.inputs.length === 2);
    await server.probe.until((p) => p.aborted.length === 1);
    await feed.whenConsumers(1);
    feed.publish('2', { n: 2, text: 'b' });
    feed.end();
    await sub.done;
    expect(server.probe.inputs).toEqual([undefined, { lastEventId: '1' }]);
    expect(sub.seen.filter((s) => s.startsWith('data'))).toEqual([
      'data {"id":"1","data":{"n":1,"text":"a"}}',
      'data {"id":"2","data":{"n":2,"text":"b"}}',
    ]);
  });

  test('connection params reach authorizeConnection and createContext', async () => {
    const seen: unknown[] = [];
    await using server = await startOurServer({
      authorizeConnection: ({ connectionParams }) => {
        seen.push(connectionParams);
      },
    });
    await using client = connect(server, { token: 'abc' });
    await expect(client.trpc.whoami.query()).resolves.toEqual({ token: 'abc' });
    expect(seen).toEqual([{ token: 'abc' }]);
  });
});
