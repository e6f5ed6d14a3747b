/**
 * Who reads what. With API_KEYS set: anonymous callers get the public view
 * of pets and no operator view; a key opens everything. Without API_KEYS:
 * pets are open, operator views (trace list, stats, metrics) are served to
 * loopback callers only.
 */
import os from 'node:os';

import { describe, expect, test } from 'vitest';
import { z } from 'zod';

import { createContextFactory } from '../../server/engine/transport/context.js';
import { createCaller } from '../../server/app/pet-shelter/app-router.js';
import { isLoopbackAddress } from '../../server/engine/security/access.js';
import type { Caller } from '../../server/engine/security/caller.js';
import { shelter } from '../../server/app/pet-shelter/application.js';
import { createEngine } from '../../server/engine/create-engine.js';
import { PetSchema, type Pet } from '../../shared/pet.js';
import { PublicPetSchema, toPublicPet } from '../../shared/public-pet.js';
import { transformer } from '../../shared/transformer.js';
import { collect } from '../support/async.js';
import { rejection } from '../support/errors.js';
import { luna } from '../support/pets.js';
import { captureLogger, testConfig } from '../support/test-config.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const KEY = 'shelter-key-0123456789abcdef';
const FORBIDDEN_MESSAGE =
  'Traces, stats and metrics are served to loopback callers only while API_KEYS is unset; set API_KEYS and present a key to read them from elsewhere';
const PRIVATE_FIELDS = ['symptoms', 'notes', 'nextFeedingAt'] as const;

type Outcome = { readonly status: number; readonly code: string | null; readonly data: unknown };

/** A tRPC query over plain HTTP, with or without a key. */
async function query(ctx: TestApp, path: string, input: unknown, key?: string): Promise<Outcome> {
  const encoded =
    input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(transformer.serialize(input)))}`;
  const response = await fetch(`${ctx.url}/trpc/${path}${encoded}`, { headers: auth(key) });
  const body = (await response.json()) as {
    result?: { data: never };
    error?: { json: { data: { code: string } } };
  };
  return {
    status: response.status,
    code: body.error?.json.data.code ?? null,
    data: body.result ? transformer.deserialize(body.result.data) : null,
  };
}

/** A plain route (REST, metrics), with or without a key. */
async function get(ctx: TestApp, path: string, key?: string): Promise<Outcome> {
  const response = await fetch(`${ctx.url}${path}`, { headers: auth(key) });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json')
    ? (JSON.parse(text) as { error?: { code: string } })
    : null;
  return { status: response.status, code: json?.error?.code ?? null, data: json ?? text };
}

const auth = (key: string | undefined): Record<string, string> =>
  key === undefined ? {} : { authorization: `Bearer ${key}` };

/** A pet with every private field set: created with a key, its workflow finished. */
async function finishedPet(ctx: TestApp, key?: string) {
  const client = key === undefined ? ctx.client : ctx.newClient({ apiKey: key });
  const created = await client.pets.create.mutate(luna);
  await collect(client.watchPetCreation(created.traceId, created.streamToken));
  const pet = await ctx.app.engine.services.pets.get(created.pet.id);
  if (!pet) throw new Error('pet not stored');
  for (const field of PRIVATE_FIELDS) expect(pet[field]).toBeDefined();
  return { pet, traceId: created.traceId, token: created.streamToken };
}

function expectPublicView(value: unknown, pet: Pet): void {
  expect(PublicPetSchema.parse(value)).toEqual(toPublicPet(pet));
  for (const field of PRIVATE_FIELDS) expect(value).not.toHaveProperty(field);
}

describe('with API_KEYS set', () => {
  test('anonymous callers: the public view of pets (tRPC and REST), no operator view', async () => {
    await using ctx = await startTestApp({ env: { API_KEYS: KEY } });
    const { pet, traceId, token } = await finishedPet(ctx, KEY);

    const got = await query(ctx, 'pets.get', { id: pet.id });
    expect(got.status).toBe(200);
    expectPublicView(got.data, pet);
    const listed = await query(ctx, 'pets.list', undefined);
    expect(listed.data).toMatchObject({ items: [expect.anything()], nextCursor: null });
    expectPublicView((listed.data as { items: unknown[] }).items[0], pet);
    expectPublicView((await get(ctx, `/pets/${pet.id}`)).data, pet);
    expectPublicView(((await get(ctx, '/pets')).data as { items: unknown[] }).items[0], pet);
    // The typed client without a key reads the same public view.
    expectPublicView(await ctx.client.pets.get.query({ id: pet.id }), pet);

    expect(await query(ctx, 'system.stats', undefined)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(await query(ctx, 'traces.list', {})).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(await query(ctx, 'traces.get', { traceId, token })).toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
    });
    const metrics = await fetch(`${ctx.url}/metrics`);
    expect(metrics.status).toBe(401);
    expect(metrics.headers.get('www-authenticate')).toBe('Bearer');
    expect(await metrics.json()).toEqual({
      error: { code: 'UNAUTHORIZED', message: 'An API key is required' },
    });
  });

  test('a valid key: whole pets, stats, traces and metrics', async () => {
    await using ctx = await startTestApp({ env: { API_KEYS: KEY } });
    const { pet, traceId, token } = await finishedPet(ctx, KEY);

    const got = await query(ctx, 'pets.get', { id: pet.id }, KEY);
    expect(z.strictObject(PetSchema.shape).parse(got.data)).toEqual(pet);
    expect(await query(ctx, 'pets.list', undefined, KEY)).toMatchObject({
      status: 200,
      data: { items: [pet], nextCursor: null },
    });
    expect((await get(ctx, `/pets/${pet.id}`, KEY)).data).toEqual(pet);
    expect((await get(ctx, '/pets', KEY)).data).toEqual({ items: [pet], nextCursor: null });

    expect(await query(ctx, 'system.stats', undefined, KEY)).toMatchObject({
      status: 200,
      data: { workflows: expect.anything() },
    });
    expect(await query(ctx, 'traces.list', {}, KEY)).toMatchObject({
      status: 200,
      data: { items: [{ traceId, subject: 'Luna' }] },
    });
    expect(await query(ctx, 'traces.get', { traceId, token }, KEY)).toMatchObject({ status: 200 });
    const metrics = await get(ctx, '/metrics', KEY);
    expect(metrics.status).toBe(200);
    expect(metrics.data).toContain('pet_stream_workflows_started_total');
  });

  test('an invalid key is refused everywhere, not read as anonymous', async () => {
    await using ctx = await startTestApp({ env: { API_KEYS: KEY } });
    const { pet } = await finishedPet(ctx, KEY);
    const bad = `${KEY}x`;
    for (const [path, input] of [
      ['pets.get', { id: pet.id }],
      ['pets.list', undefined],
      ['system.stats', undefined],
      ['traces.list', {}],
    ] as const) {
      expect(await query(ctx, path, input, bad), path).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    }
    for (const path of [`/pets/${pet.id}`, '/pets', '/metrics']) {
      expect(await get(ctx, path, bad), path).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    }
  });

  test('a keyed caller from another address reads operator views', async () => {
    await using t = callerFrom({ via: 'http', ip: '198.51.100.9', apiKey: KEY }, { API_KEYS: KEY });
    expect(await t.caller.traces.list({})).toEqual({ items: [], nextCursor: null });
    expect(await t.caller.system.stats()).toHaveProperty('workflows');
    await using anonymous = callerFrom({ via: 'http', ip: '127.0.0.1', apiKey: null }, { API_KEYS: KEY });
    // With keys on, being on loopback is not enough.
    expect((await rejection(anonymous.caller.system.stats())).code).toBe('UNAUTHORIZED');
  });
});

describe('without API_KEYS', () => {
  test('loopback callers read everything: whole pets, stats, traces, metrics', async () => {
    await using ctx = await startTestApp();
    const { pet, traceId } = await finishedPet(ctx);
    expect((await query(ctx, 'pets.get', { id: pet.id })).data).toEqual(pet);
    expect((await get(ctx, '/pets')).data).toEqual({ items: [pet], nextCursor: null });
    expect(await query(ctx, 'system.stats', undefined)).toMatchObject({ status: 200 });
    expect(await query(ctx, 'traces.list', {})).toMatchObject({
      status: 200,
      data: { items: [{ traceId }] },
    });
    expect((await get(ctx, '/metrics')).status).toBe(200);
  });

  test.each(['203.0.113.7', '10.0.0.5', '::ffff:192.0.2.1', '2001:db8::1'])(
    'a caller from %s gets FORBIDDEN for operator views, naming API_KEYS; pets stay open',
    async (ip) => {
      await using t = callerFrom({ via: 'http', ip, apiKey: null });
      const created = await t.caller.pets.create(luna);
      await t.engine.workflows.onFinished(created.traceId);
      for (const call of [() => t.caller.traces.list({}), () => t.caller.system.stats()]) {
        const error = await rejection(call());
        expect(error.code).toBe('FORBIDDEN');
        expect(error.message).toBe(FORBIDDEN_MESSAGE);
      }
      const pet = await t.caller.pets.get({ id: created.pet.id });
      expect(pet.symptoms).toEqual(luna.symptoms);
      expect((await t.caller.pets.list()).items).toEqual([pet]);
    },
  );

  test.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])(
    'a caller from %s is on loopback: operator views are served',
    async (ip) => {
      await using t = callerFrom({ via: 'ws', ip, apiKey: null });
      expect(await t.caller.traces.list({})).toEqual({ items: [], nextCursor: null });
      expect(await t.caller.system.stats()).toHaveProperty('workflows');
    },
  );

  const external = externalAddress();
  test.skipIf(external === null)(
    'GET /metrics from a non-loopback address of this machine is 403 naming API_KEYS',
    async () => {
      await using ctx = await startTestApp({ env: { HOST: '0.0.0.0' } });
      const port = new URL(ctx.url).port;
      const response = await fetch(`http://${external}:${port}/metrics`);
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ error: { code: 'FORBIDDEN', message: FORBIDDEN_MESSAGE } });
      expect((await fetch(`${ctx.url}/metrics`)).status).toBe(200);
    },
  );
});

test('loopback addresses are 127.0.0.0/8 and ::1, also IPv4-mapped; nothing else', () => {
  for (const ip of ['127.0.0.1', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3']) {
    expect(isLoopbackAddress(ip), ip).toBe(true);
  }
  for (const ip of [
    '128.0.0.1',
    '10.127.0.1',
    '::2',
    '::ffff:10.0.0.1',
    '0.0.0.0',
    'unknown',
    '127.0.0.1.evil',
  ]) {
    expect(isLoopbackAddress(ip), ip).toBe(false);
  }
});

/** The router in process, called as `caller` would call it over a transport. */
function callerFrom(caller: Caller, env: Record<string, string> = {}) {
  const { log } = captureLogger();
  const engine = createEngine(testConfig(env), log, shelter);
  return {
    caller: createCaller(createContextFactory(engine)({ caller, subscriptions: null })),
    engine,
    [Symbol.asyncDispose]: () => engine.close(),
  };
}

/** An IPv4 address of this machine other than loopback, if it has one. */
function externalAddress(): string | null {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return null;
}
