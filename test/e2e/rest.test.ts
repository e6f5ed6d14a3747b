import { describe, expect, test } from 'vitest';

import type { Pet, PetInput } from '../../shared/pet.js';
import { collect } from '../support/async.js';
import { buddy, luna, max } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp } from '../support/test-app.js';

type PetPage = { items: Pet[]; nextCursor: string | null };
type Created = { pet: Pet; traceId: string; stream: { eventId: string }; streamToken: string };
type ErrorBody = {
  error: { code: string; message: string; fieldErrors?: Record<string, string[]>; formErrors?: string[] };
};

const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/pets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('REST', () => {
  test('POST /pets answers 201 with the body of pets.create, and the workflow runs', async () => {
    await using ctx = await startTestApp();
    const res = await postJson(ctx.url, max);
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const created = (await res.json()) as Created;
    expect(res.headers.get('location')).toBe(`/pets/${created.pet.id}`);

    const viaTrpc = await ctx.client.pets.create.mutate(luna);
    expect(Object.keys(created).sort()).toEqual(Object.keys(viaTrpc).sort());
    expect(Object.keys(created.stream).sort()).toEqual(Object.keys(viaTrpc.stream).sort());
    expect(created.pet).toMatchObject({ ...max, status: 'new' });
    expect(created.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(created.stream).toMatchObject({ eventId: '1', groupId: created.traceId, itemId: 'message' });

    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expectCompleteWorkflow(events, max);
    expect(events[0]).toEqual(created.stream);
  });

  test('GET /pets/:id and GET /pets answer what pets.get and pets.list answer', async () => {
    await using ctx = await startTestApp();
    const ids: string[] = [];
    for (const pet of [max, luna, buddy]) {
      const created = (await (await postJson(ctx.url, pet)).json()) as Created;
      await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
      ids.push(created.pet.id);
    }

    for (const id of ids) {
      const res = await fetch(`${ctx.url}/pets/${id}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(await ctx.client.pets.get.query({ id }));
    }
    const luna200 = (await (await fetch(`${ctx.url}/pets/${ids[1]}`)).json()) as Pet;
    expect(luna200).toMatchObject({ name: 'Luna', status: 'ill' });
    expect(luna200.profile?.temperamentTags.length).toBeGreaterThanOrEqual(3);

    const list = await fetch(`${ctx.url}/pets`);
    expect(list.status).toBe(200);
    const pets = (await list.json()) as PetPage;
    expect(pets).toEqual(await ctx.client.pets.list.query());
    expect(pets.items.map((p) => p.name).sort()).toEqual(['Buddy', 'Luna', 'Max']);
    expect(pets.nextCursor).toBeNull();
    const two = (await (await fetch(`${ctx.url}/pets?limit=2`)).json()) as PetPage;
    expect(two.items).toEqual(pets.items.slice(0, 2));
    const rest = (await (await fetch(`${ctx.url}/pets?limit=2&cursor=${two.nextCursor}`)).json()) as PetPage;
    expect(rest).toEqual({ items: pets.items.slice(2), nextCursor: null });
  });

  test('bad input: 400 naming each bad field, and nothing is stored', async () => {
    await using ctx = await startTestApp();
    const res = await postJson(ctx.url, {
      name: ' ',
      species: 'fish',
      ageMonths: 9999,
      weightKg: -1,
      symptoms: [''],
    });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as ErrorBody;
    expect(error.code).toBe('BAD_REQUEST');
    expect(Object.keys(error.fieldErrors ?? {}).sort()).toEqual([
      'ageMonths',
      'name',
      'species',
      'symptoms',
      'weightKg',
    ]);
    for (const field of ['name', 'species', 'ageMonths', 'weightKg', 'symptoms']) {
      expect(error.message).toContain(`${field}:`);
    }

    const missing = (await (await postJson(ctx.url, {})).json()) as ErrorBody;
    expect(Object.keys(missing.error.fieldErrors ?? {}).sort()).toEqual(['ageMonths', 'name', 'species']);

    const extra = await postJson(ctx.url, { ...buddy, owner: 'me' });
    expect(extra.status).toBe(400);
    const extraBody = (await extra.json()) as ErrorBody;
    expect(extraBody.error.message).toContain('owner');

    const notAnObject = await postJson(ctx.url, [buddy]);
    expect(notAnObject.status).toBe(400);

    expect(await (await fetch(`${ctx.url}/pets`)).json()).toEqual({ items: [], nextCursor: null });
  });

  test('415 for a body that is not declared JSON, 400 for JSON that does not parse', async () => {
    await using ctx = await startTestApp();
    const form = await fetch(`${ctx.url}/pets`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=Max&species=dog&ageMonths=24',
    });
    expect(form.status).toBe(415);
    expect(((await form.json()) as ErrorBody).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const broken = await postJson(ctx.url, '{"name": "Max",');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as ErrorBody).error.code).toBe('PARSE_ERROR');
    expect(await (await fetch(`${ctx.url}/pets`)).json()).toEqual({ items: [], nextCursor: null });
  });

  test('413 for a body over HTTP_MAX_BODY_BYTES, declared or streamed', async () => {
    await using ctx = await startTestApp({ env: { HTTP_MAX_BODY_BYTES: '2048' } });
    const big: PetInput = { ...buddy, name: 'x'.repeat(3000) };
    const declared = await postJson(ctx.url, big);
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as ErrorBody).error.code).toBe('PAYLOAD_TOO_LARGE');

    const chunks = Array.from({ length: 4 }, () => new TextEncoder().encode(' '.repeat(1000)));
    const streamed = await fetch(`${ctx.url}/pets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk);
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);

    // Just under the limit is fine.
    expect((await postJson(ctx.url, { ...buddy, name: 'x'.repeat(100) })).status).toBe(201);
  });

  test('the API-key check and the create rate limit of pets.create apply to POST /pets too', async () => {
    const key = 'rest-test-key-0123456789';
    await using ctx = await startTestApp({
      env: { API_KEYS: key, RATE_LIMIT_CREATE_BURST: '1', RATE_LIMIT_CREATE_PER_MINUTE: '1' },
    });
    const anonymous = await postJson(ctx.url, buddy);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as ErrorBody).error.code).toBe('UNAUTHORIZED');

    expect((await postJson(ctx.url, buddy, { authorization: `Bearer ${key}` })).status).toBe(201);
    const second = await postJson(ctx.url, buddy, { authorization: `Bearer ${key}` });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await second.json()) as ErrorBody).error.code).toBe('TOO_MANY_REQUESTS');
  });

  test('404 for an unknown pet, 400 for a bad limit, 405 for a method the path does not take', async () => {
    await using ctx = await startTestApp();
    const unknown = await fetch(`${ctx.url}/pets/999`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as ErrorBody).error).toEqual({
      code: 'NOT_FOUND',
      message: 'No pet with id "999"',
    });

    const badLimit = await fetch(`${ctx.url}/pets?limit=0`);
    expect(badLimit.status).toBe(400);
    expect(Object.keys(((await badLimit.json()) as ErrorBody).error.fieldErrors ?? {})).toEqual(['limit']);

    expect((await fetch(`${ctx.url}/pets`, { method: 'DELETE' })).status).toBe(405);
  });
});
