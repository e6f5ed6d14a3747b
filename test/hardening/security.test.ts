import { TRPCClientError } from '@trpc/client';
import { describe, expect, test } from 'vitest';

import { createContextFactory } from '../../server/engine/transport/context.js';
import { newTraceId } from '../../server/engine/workflows/runtime.js';
import { appRouter } from '../../server/app/pet-shelter/app-router.js';
import { shelter } from '../../server/app/pet-shelter/application.js';
import { ApiKeys } from '../../server/engine/security/api-keys.js';
import { StreamTokens } from '../../server/engine/security/stream-tokens.js';
import { createEngine } from '../../server/engine/create-engine.js';
import { createHttpServer } from '../../server/engine/transport/http-server.js';
import { collect } from '../support/async.js';
import { buddy, max } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { captureLogger, testConfig } from '../support/test-config.js';
import { startTestApp } from '../support/test-app.js';
import { errorOf, RawSocket, UpgradeRefused } from './support/raw-ws.js';

const KEY = 'shelter-key-0123456789abcdef';
const OLD_SECRET = 'old-secret-that-is-at-least-32-characters-long';
const NEW_SECRET = 'new-secret-that-is-at-least-32-characters-long';

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (error: unknown) => error,
  );
}

function codeOf(error: unknown): unknown {
  return error instanceof TRPCClientError ? (error.data as { code?: unknown } | undefined)?.code : error;
}

describe('stream tokens', () => {
  test('a token is checked on every subscribe: one that expired cannot resume', async () => {
    await using ctx = await startTestApp({ env: { STREAM_TOKEN_SECRET: NEW_SECRET } });
    const created = await ctx.client.pets.create.mutate(buddy);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expectCompleteWorkflow(all, buddy);

    // The same workflow, a token signed with the right secret, but already expired.
    const expired = new StreamTokens({ secret: NEW_SECRET, ttlSeconds: 1, now: () => Date.now() - 60_000 });
    const resumed = collect(
      ctx.client.watchPetCreation(created.traceId, expired.issue('petCreation', created.traceId), {
        lastEventId: all[3]?.eventId,
      }),
    );
    expect(await failure(resumed)).toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'The stream token has expired',
    });
  });

  test('a token opens one workflow only', async () => {
    await using ctx = await startTestApp();
    const a = await ctx.client.pets.create.mutate(max);
    const b = await ctx.client.pets.create.mutate(buddy);
    expect(await failure(collect(ctx.client.watchPetCreation(b.traceId, a.streamToken)))).toMatchObject({
      code: 'FORBIDDEN',
      message: 'The stream token belongs to another workflow',
    });
  });

  test('rotation: tokens of the previous secret are still accepted while it is listed; new ones use the new secret', async () => {
    await using ctx = await startTestApp({
      env: { STREAM_TOKEN_SECRET: NEW_SECRET, STREAM_TOKEN_PREVIOUS_SECRETS: OLD_SECRET },
    });
    const created = await ctx.client.pets.create.mutate(buddy);
    // Issued before the rotation, under the old secret.
    const oldToken = new StreamTokens({ secret: OLD_SECRET, ttlSeconds: 3600 }).issue(
      'petCreation',
      created.traceId,
    );
    expectCompleteWorkflow(await collect(ctx.client.watchPetCreation(created.traceId, oldToken)), buddy);

    expect(
      new StreamTokens({ secret: NEW_SECRET, ttlSeconds: 1 }).verify(
        'petCreation',
        created.traceId,
        created.streamToken,
      ),
    ).toBe('ok');
    expect(
      new StreamTokens({ secret: OLD_SECRET, ttlSeconds: 1 }).verify(
        'petCreation',
        created.traceId,
        created.streamToken,
      ),
    ).toBe('invalid');
    const unknown = new StreamTokens({ secret: 'x'.repeat(32), ttlSeconds: 3600 }).issue(
      'petCreation',
      created.traceId,
    );
    expect(await failure(collect(ctx.client.watchPetCreation(created.traceId, unknown)))).toMatchObject({
      code: 'UNAUTHORIZED',
    });
  });

  test('once the previous secret is dropped, its tokens stop working', async () => {
    await using ctx = await startTestApp({ env: { STREAM_TOKEN_SECRET: NEW_SECRET } });
    const created = await ctx.client.pets.create.mutate(buddy);
    const oldToken = new StreamTokens({ secret: OLD_SECRET, ttlSeconds: 3600 }).issue(
      'petCreation',
      created.traceId,
    );
    expect(await failure(collect(ctx.client.watchPetCreation(created.traceId, oldToken)))).toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'The stream token is not valid',
    });
  });
});

describe('API keys', () => {
  test('mutations over HTTP need a key when API_KEYS is set; queries do not', async () => {
    await using ctx = await startTestApp({ env: { API_KEYS: `${KEY}, second-key-0123456789` } });
    const create = (headers: Record<string, string>) =>
      fetch(`${ctx.url}/trpc/pets.create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ json: buddy }),
      });
    const missing = await create({});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { json: { message: 'An API key is required' } } });
    const wrong = await create({ authorization: `Bearer ${KEY}x` });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { json: { message: 'The API key is not valid' } } });
    expect((await create({ 'x-api-key': 'short' })).status).toBe(401);
    expect((await ctx.client.pets.list.query()).items).toEqual([]);

    expect((await create({ authorization: `Bearer ${KEY}` })).status).toBe(200);
    expect((await create({ 'x-api-key': 'second-key-0123456789' })).status).toBe(200);
    expect((await ctx.client.pets.list.query()).items).toHaveLength(2);
  });

  test('WebSocket connections need a key: refused at the upgrade, or when connection params carry a bad one', async () => {
    await using ctx = await startTestApp({ env: { API_KEYS: KEY } });
    expect(await failure(new RawSocket(ctx.wsUrl).opened())).toEqual(new UpgradeRefused(401));
    expect(await failure(new RawSocket(ctx.wsUrl, { headers: { 'x-api-key': 'nope' } }).opened())).toEqual(
      new UpgradeRefused(401),
    );
    const withHeader = new RawSocket(ctx.wsUrl, { headers: { 'x-api-key': KEY } });
    await withHeader.opened();
    withHeader.call(1, 'query', 'pets.list', {});
    expect(await withHeader.frame((f) => f['id'] === 1)).toHaveProperty('result');
    withHeader.close();

    const badParams = new RawSocket(`${ctx.wsUrl}?connectionParams=1`);
    await badParams.opened();
    badParams.send(JSON.stringify({ method: 'connectionParams', data: { apiKey: 'wrong' } }));
    const refused = await badParams.frame((f) => 'error' in f);
    expect(errorOf(refused)).toEqual({ code: 'UNAUTHORIZED', message: 'The API key is not valid' });
    await badParams.closed;
  });

  test('the typed client with `apiKey` creates and watches; without it, it is refused', async () => {
    await using ctx = await startTestApp({ env: { API_KEYS: KEY } });
    const keyed = ctx.newClient({ apiKey: KEY });
    const created = await keyed.pets.create.mutate(max);
    expectCompleteWorkflow(await collect(keyed.watchPetCreation(created.traceId, created.streamToken)), max);

    expect(codeOf(await failure(ctx.client.pets.create.mutate(buddy)))).toBe('UNAUTHORIZED');
    // SSE needs only the stream token: browsers cannot add headers to an EventSource.
    const sse = ctx.newClient({ transport: 'sse' });
    expectCompleteWorkflow(await collect(sse.watchPetCreation(created.traceId, created.streamToken)), max);
  });

  test('keys are compared whole, whatever their length', () => {
    const keys = new ApiKeys([KEY, 'another-key-of-another-length-0123456789']);
    expect(keys.check(KEY)).toBe('ok');
    expect(keys.check(KEY.slice(0, -1))).toBe('invalid');
    expect(keys.check(`${KEY}0`)).toBe('invalid');
    expect(keys.check('')).toBe('missing');
    expect(new ApiKeys([]).check('anything')).toBe('not-required');
  });
});

describe('WebSocket origin check', () => {
  test('with ALLOWED_ORIGINS set, upgrades from other origins get 403; listed and absent origins pass', async () => {
    await using ctx = await startTestApp({
      env: { ALLOWED_ORIGINS: 'https://shelter.example,http://localhost:5173' },
    });
    const open = (origin?: string) => new RawSocket(ctx.wsUrl, origin ? { origin } : {});
    expect(await failure(open('https://evil.example').opened())).toEqual(new UpgradeRefused(403));
    expect(await failure(open('null').opened())).toEqual(new UpgradeRefused(403));
    expect(await failure(open('https://shelter.example.evil.example').opened())).toEqual(
      new UpgradeRefused(403),
    );
    for (const origin of ['https://shelter.example', 'http://localhost:5173', undefined]) {
      const socket = open(origin);
      await socket.opened();
      socket.close();
    }
  });
});

describe('errors never leak internals', () => {
  test('an unexpected failure in a procedure is a bare INTERNAL_SERVER_ERROR over HTTP and WebSocket, logged in full', async () => {
    await using ctx = await startTestApp();
    const secret = 'ECONNREFUSED 10.0.0.7:5432 at PetRepository.insert (/srv/app/db.js:42:7)';
    ctx.app.engine.services.pets.create = async () => {
      throw new Error(secret);
    };
    const http = await fetch(`${ctx.url}/trpc/pets.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: buddy }),
    });
    expect(http.status).toBe(500);
    const body = await http.text();
    expect(JSON.parse(body)).toMatchObject({
      error: { json: { message: 'Internal server error', data: { code: 'INTERNAL_SERVER_ERROR' } } },
    });
    expect(body).not.toMatch(/ECONNREFUSED|db\.js|stack|\/srv/);

    const socket = new RawSocket(ctx.wsUrl);
    await socket.opened();
    socket.call(1, 'mutation', 'pets.create', buddy);
    const frame = await socket.frame((f) => f['id'] === 1);
    expect(errorOf(frame)).toEqual({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
    expect(JSON.stringify(frame)).not.toMatch(/ECONNREFUSED|db\.js|stack|\/srv/);
    socket.close();

    expect(
      ctx.logs.filter((l) => l.msg.startsWith('❌') && JSON.stringify(l).includes('ECONNREFUSED')),
    ).toHaveLength(2);
  });

  test('a plain route that throws gets a bare 500', async () => {
    const { log, lines } = captureLogger();
    const engine = createEngine(testConfig(), log, shelter);
    const server = createHttpServer({
      router: appRouter,
      createContext: createContextFactory(engine),
      maxBodyBytes: 1024,
      log,
      routes: [
        {
          method: 'GET',
          path: '/boom',
          handle: () => {
            throw new Error('secret: /etc/shelter/credentials.json');
          },
        },
      ],
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const response = await fetch(`http://127.0.0.1:${port}/boom`);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({
        error: { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' },
      });
      expect(lines.some((l) => JSON.stringify(l).includes('credentials.json'))).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await engine.close();
    }
  });

  test('trace ids are 128 random bits: distinct, 32 hex characters', async () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newTraceId()));
    expect(ids.size).toBe(10_000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    await using ctx = await startTestApp();
    const { traceId } = await ctx.client.pets.create.mutate(buddy);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});
