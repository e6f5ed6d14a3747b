/**
 * The options of our WebSocket protocol server: validation, admission of
 * upgrades, connection authorization, limits, the reconnect notification
 * and shutdown.
 */
import { TRPCError } from '@trpc/server';
import { describe, expect, test } from 'vitest';

import { createWsProtocolServer } from '../../server/engine/transport/ws/index.js';
import { call, RawClient } from './support/raw-client.js';
import { startOurServer } from './support/ws-servers.js';
import { testRouter } from './support/ws-test-router.js';

describe('options', () => {
  test.each([
    ['router', { router: null }],
    ['transformer', { transformer: { serialize: () => null } }],
    ['transformer', { transformer: { input: { serialize: () => null, deserialize: () => null } } }],
    ['errorFormatter', { errorFormatter: 'yes' }],
    ['createContext', { createContext: {} }],
    ['authorizeConnection', { authorizeConnection: 1 }],
    ['onError', { onError: true }],
    ['admit', { admit: 'all' }],
    ['onSlowConsumer', { onSlowConsumer: 0 }],
    ['isDev', { isDev: 'no' }],
    ['maxBatchSize', { maxBatchSize: 0 }],
    ['maxPayloadBytes', { maxPayloadBytes: 0 }],
    ['maxJsonDepth', { maxJsonDepth: 1.5 }],
    ['maxSubscriptionsPerConnection', { maxSubscriptionsPerConnection: 0 }],
    ['maxBufferedBytes', { maxBufferedBytes: -1 }],
    ['slowConsumerMs', { slowConsumerMs: -1 }],
    ['pingMs', { pingMs: Number.NaN }],
    ['connectionParamsTimeoutMs', { connectionParamsTimeoutMs: 0 }],
  ])('a bad `%s` is a TypeError naming it', (name, bad) => {
    const options = { router: testRouter, ...bad } as unknown as Parameters<typeof createWsProtocolServer>[0];
    expect(() => createWsProtocolServer(options)).toThrow(TypeError);
    expect(() => createWsProtocolServer(options)).toThrow(`\`${name}\``);
  });

  test('the smallest values allowed are accepted', async () => {
    const server = createWsProtocolServer({
      router: testRouter,
      maxBatchSize: 1,
      maxPayloadBytes: 1,
      maxJsonDepth: 1,
      maxSubscriptionsPerConnection: 1,
      maxBufferedBytes: 1,
      slowConsumerMs: 0,
      pingMs: 0,
      connectionParamsTimeoutMs: 1,
    });
    await server.close();
  });

  test('admit refuses upgrades with its status; a cap on connections holds on both sides of it', async () => {
    await using server = await startOurServer({
      admit: (req, { connections }) => {
        if (req.headers.origin === 'https://evil.example') return { status: 403 };
        return connections >= 1 ? { status: 503, reason: 'Too many connections' } : null;
      },
    });
    await expect(RawClient.open(server.url, { origin: 'https://evil.example' })).rejects.toThrow('403');
    const first = await RawClient.open(server.url);
    await expect(RawClient.open(server.url)).rejects.toThrow('503');
    first.terminate();
    await first.closed;
    const again = await RawClient.open(server.url);
    again.terminate();
  });

  test('an admit that throws refuses with 500 and is reported', async () => {
    await using server = await startOurServer({
      admit: () => {
        throw new Error('admission broke');
      },
    });
    await expect(RawClient.open(server.url)).rejects.toThrow('500');
    expect(server.errors.map((e) => e.error.cause?.message)).toEqual(['admission broke']);
  });

  test('authorizeConnection refuses a connection the way a failing createContext does', async () => {
    await using server = await startOurServer({
      authorizeConnection: ({ connectionParams }) => {
        if (connectionParams?.['apiKey'] !== 'good')
          throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Bad key' });
      },
    });
    const refused = await RawClient.open(`${server.url}/?connectionParams=1`);
    refused.send({ method: 'connectionParams', data: { apiKey: 'bad' } });
    await expect(refused.closed).resolves.toMatchObject({ code: 1005 });
    expect(refused.texts).toEqual([
      '{"id":null,"error":{"json":{"message":"Bad key","code":-32001,"data":{"code":"UNAUTHORIZED","httpStatus":401,"formatted":true,"fieldErrors":null}}}}',
      '#close 1005',
    ]);
    const admitted = await RawClient.open(`${server.url}/?connectionParams=1`);
    admitted.send({ method: 'connectionParams', data: { apiKey: 'good' } });
    admitted.send(call(1, 'query', 'whoami'));
    await admitted.waitFor((texts) => texts.length === 1);
    expect(admitted.texts).toEqual(['{"id":1,"result":{"type":"data","data":{"json":{"apiKey":"good"}}}}']);
    admitted.terminate();
  });

  test('connection params that do not come in time close the connection (1008)', async () => {
    await using server = await startOurServer({ connectionParamsTimeoutMs: 1 });
    const client = await RawClient.open(`${server.url}/?connectionParams=1`);
    await expect(client.closed).resolves.toEqual({ code: 1008, reason: 'connection params not received' });
  });

  test('a frame over maxPayloadBytes closes the connection (1009); one at the limit is served', async () => {
    await using server = await startOurServer({ maxPayloadBytes: 200 });
    const client = await RawClient.open(server.url);
    const frame = (size: number) => {
      const base = JSON.stringify(call(1, 'query', 'echo', { text: '', at: new Date(0) }));
      return base.replace('"text":""', `"text":"${'x'.repeat(size - base.length)}"`);
    };
    client.send(frame(200));
    await client.waitFor((texts) => texts.length === 1);
    expect(client.texts[0]).toContain('"text":"XXX');
    client.send(frame(201));
    await expect(client.closed).resolves.toMatchObject({ code: 1009 });
  });

  test('maxJsonDepth refuses deeper frames before parsing them', async () => {
    await using server = await startOurServer({ maxJsonDepth: 5 });
    const client = await RawClient.open(server.url);
    client.send(JSON.stringify(call(1, 'query', 'nested.ping')));
    client.send(JSON.stringify(call(2, 'query', 'echo', { text: 'x', at: new Date(0) })));
    await client.waitFor((texts) => texts.length === 2);
    // The refusal is sent at once, the answer after the call ran.
    expect(client.texts[0]).toContain(
      '{"id":null,"error":{"json":{"message":"JSON nested deeper than 5 levels"',
    );
    expect(client.texts[1]).toBe('{"id":1,"result":{"type":"data","data":{"json":"pong"}}}');
    client.terminate();
  });

  test('the reconnect notification goes to every client', async () => {
    await using server = await startOurServer();
    const clients = await Promise.all([RawClient.open(server.url), RawClient.open(server.url)]);
    server.ws.broadcastReconnectNotification();
    for (const client of clients) {
      await client.waitFor((texts) => texts.length === 1);
      expect(client.texts).toEqual(['{"id":null,"method":"reconnect"}']);
      client.terminate();
    }
  });

  test('close() closes every connection with 1001, aborts its work, then refuses upgrades', async () => {
    await using server = await startOurServer();
    const client = await RawClient.open(server.url);
    client.send(call(1, 'subscription', 'forever'));
    await client.waitFor((texts) => texts.length === 1);
    await server.ws.close({ graceMs: 1000 });
    await expect(client.closed).resolves.toEqual({ code: 1001, reason: 'server shutting down' });
    await server.probe.until((p) => p.aborted.includes('forever'));
    await expect(RawClient.open(server.url)).rejects.toThrow('503');
  });
});
