import { TRPCClientError } from '@trpc/client';
import { describe, expect, test, vi } from 'vitest';

import { buddy, max } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';
import { errorOf, RawSocket, UpgradeRefused } from './support/raw-ws.js';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (error: unknown) => error,
  );
}

describe('limits', () => {
  test('a frame over WS_MAX_PAYLOAD_BYTES closes that connection (1009); the others keep being served', async () => {
    await using ctx = await startTestApp({ env: { WS_MAX_PAYLOAD_BYTES: '1024' } });
    const big = new RawSocket(ctx.wsUrl);
    const other = new RawSocket(ctx.wsUrl);
    await Promise.all([big.opened(), other.opened()]);

    big.send('x'.repeat(2048));
    expect(await big.closed).toMatchObject({ code: 1009 });

    other.call(1, 'query', 'pets.list', {});
    expect(await other.frame((f) => f['id'] === 1)).toHaveProperty('result');
    other.close();
  });

  test('an HTTP body over HTTP_MAX_BODY_BYTES gets 413 in the tRPC error shape, and nothing is stored', async () => {
    await using ctx = await startTestApp({ env: { HTTP_MAX_BODY_BYTES: '1024' } });
    const response = await fetch(`${ctx.url}/trpc/pets.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        json: { ...buddy, name: 'B'.repeat(80), symptoms: Array(20).fill('s'.repeat(100)) },
      }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      error: {
        json: { message: 'The request body is larger than 1024 bytes', data: { code: 'PAYLOAD_TOO_LARGE' } },
      },
    });
    await ctx.client.pets.create.mutate(buddy);
    expect((await ctx.client.pets.list.query()).items).toHaveLength(1);
  });

  test('upgrades beyond MAX_CONNECTIONS are refused with 503, and accepted again once one closes', async () => {
    await using ctx = await startTestApp({ env: { MAX_CONNECTIONS: '2' } });
    const first = new RawSocket(ctx.wsUrl);
    const second = new RawSocket(ctx.wsUrl);
    await Promise.all([first.opened(), second.opened()]);

    const third = new RawSocket(ctx.wsUrl);
    expect(await refusal(third.opened())).toEqual(new UpgradeRefused(503));

    first.close();
    await first.closed;
    // The server learns of the close a moment after the client.
    const fourth = await vi.waitFor(async () => {
      const socket = new RawSocket(ctx.wsUrl);
      await socket.opened();
      return socket;
    });
    second.close();
    fourth.close();
  });

  test('subscriptions beyond MAX_SUBSCRIPTIONS_PER_CONNECTION get TOO_MANY_REQUESTS; stopping one frees its slot', async () => {
    await using ctx = await startTestApp({
      env: { MAX_SUBSCRIPTIONS_PER_CONNECTION: '2', FEEDING_CHECK_DELAY_MS: '60000' },
    });
    const created = await ctx.client.pets.create.mutate(buddy);
    const input = { traceId: created.traceId, token: created.streamToken };
    const socket = new RawSocket(ctx.wsUrl);
    await socket.opened();
    const started = (id: number) => socket.frame((f) => f['id'] === id && hasResultType(f, 'started'));

    socket.call(1, 'subscription', 'petCreation.onUpdate', input);
    socket.call(2, 'subscription', 'petCreation.onUpdate', input);
    await Promise.all([started(1), started(2)]);
    socket.call(3, 'subscription', 'petCreation.onUpdate', input);
    expect(errorOf(await socket.frame((f) => f['id'] === 3))).toEqual({
      code: 'TOO_MANY_REQUESTS',
      message: 'At most 2 subscriptions per connection; stop one or open another connection',
    });

    socket.send(JSON.stringify({ id: 1, method: 'subscription.stop' }));
    await socket.frame((f) => f['id'] === 1 && hasResultType(f, 'stopped'));
    socket.call(4, 'subscription', 'petCreation.onUpdate', input);
    await started(4);

    // Each connection has its own budget.
    const other = new RawSocket(ctx.wsUrl);
    await other.opened();
    other.call(1, 'subscription', 'petCreation.onUpdate', input);
    await other.frame((f) => f['id'] === 1 && hasResultType(f, 'started'));
    socket.close();
    other.close();
  });

  test('pets.create is rate limited per client: 429 with Retry-After, nothing stored, other clients unaffected', async () => {
    await using ctx = await startTestApp({
      env: {
        RATE_LIMIT_CREATE_PER_MINUTE: '60',
        RATE_LIMIT_CREATE_BURST: '3',
        API_KEYS: `${KEY_A},${KEY_B}`,
      },
    });
    const create = (key: string) =>
      fetch(`${ctx.url}/trpc/pets.create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ json: max }),
      });
    for (let i = 0; i < 3; i += 1) expect((await create(KEY_A)).status).toBe(200);

    const limited = await create(KEY_A);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toMatchObject({
      error: {
        json: {
          message: 'Too many pets created from this client; retry in 1 s',
          data: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 1 },
        },
      },
    });
    expect((await ctx.client.pets.list.query()).items).toHaveLength(3);

    // Another key has its own bucket; the typed client sees the same error data.
    const b = ctx.newClient({ apiKey: KEY_B });
    for (let i = 0; i < 3; i += 1) await b.pets.create.mutate(buddy);
    const error = await refusal(b.pets.create.mutate(buddy));
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<never>).data).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      retryAfterSeconds: 1,
    });
    expect((await ctx.client.pets.list.query()).items).toHaveLength(6);
  });

  test('keep-alive drops a client that stops answering pings, and keeps those that answer', async () => {
    await using ctx = await startTestApp({ env: { WS_PING_MS: '20' } });
    const silent = new RawSocket(ctx.wsUrl, { autoPong: false });
    const alive = new RawSocket(ctx.wsUrl);
    await Promise.all([silent.opened(), alive.opened()]);
    let pings = 0;
    alive.socket.on('ping', () => (pings += 1));

    // Terminated, not closed: a peer that does not answer would not answer a close either.
    expect(await silent.closed).toMatchObject({ code: 1006 });
    const pingsWhenDropped = pings;
    await vi.waitFor(() => expect(pings).toBeGreaterThanOrEqual(pingsWhenDropped + 3));
    expect(alive.socket.readyState).toBe(alive.socket.OPEN);
    alive.call(1, 'query', 'pets.list', {});
    expect(await alive.frame((f) => f['id'] === 1)).toHaveProperty('result');
    alive.close();
  });
});

function hasResultType(frame: Record<string, unknown>, type: string): boolean {
  const result = frame['result'];
  return (
    typeof result === 'object' && result !== null && (result as Record<string, unknown>)['type'] === type
  );
}
