/**
 * What one request can make the server build: batches, pages and answers
 * are bounded, and health checks are answered while the largest allowed
 * requests run.
 */
import { describe, expect, test } from 'vitest';

import { createContextFactory } from '../../server/engine/transport/context.js';
import { createCaller } from '../../server/app/pet-shelter/app-router.js';
import type { PetInput } from '../../shared/pet.js';
import { transformer } from '../../shared/transformer.js';
import { allPages } from '../support/pet-pages.js';
import { buddy } from '../support/pets.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { errorOf, RawSocket } from './support/raw-ws.js';

const MAX_BATCH = 50;
const PAGE_MAX = 100;
const DEFAULT_MAX_RESPONSE_BYTES = 4_194_304;

/** The largest pet the API stores without a profile: about 2.2 KB of JSON. */
const heavy: PetInput = {
  name: 'H'.repeat(100),
  species: 'dog',
  ageMonths: 600,
  weightKg: 1000,
  symptoms: Array.from({ length: 20 }, (_, i) => `${i} `.padEnd(100, 's')),
};

type Call = { readonly path: string; readonly input?: unknown };
type Answer = { readonly result?: { data: unknown }; readonly error?: { json: Record<string, unknown> } };

/** Stores pets as `pets.create` would, without running their workflows. */
async function seed(ctx: TestApp, count: number, pet: PetInput = heavy): Promise<void> {
  for (let i = 0; i < count; i += 1) await ctx.app.engine.services.pets.create(pet);
}

/** One GET carrying a batch of queries, as a client that ignores the typed client's bounds sends it. */
async function batch(ctx: TestApp, calls: readonly Call[]) {
  const inputs = Object.fromEntries(calls.map((call, i) => [i, transformer.serialize(call.input)]));
  const url = `${ctx.url}/trpc/${calls.map((c) => c.path).join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(inputs))}`;
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, bytes: Buffer.byteLength(text), body: JSON.parse(text) as unknown };
}

const codeOf = (answer: Answer) => (answer.error?.json['data'] as { code?: string } | undefined)?.code;
const itemsOf = (answer: Answer) =>
  transformer.deserialize<{ items: unknown[] }>(answer.result?.data as never).items;

describe('batches', () => {
  test('the reported attack, 150 × pets.list({ limit: 500 }) in one GET, is refused whole with a small BAD_REQUEST', async () => {
    await using ctx = await startTestApp();
    await seed(ctx, 10);
    const answer = await batch(
      ctx,
      Array.from({ length: 150 }, () => ({ path: 'pets.list', input: { limit: 500 } })),
    );
    expect(answer.status).toBe(400);
    expect(answer.bytes).toBeLessThan(1024);
    expect(answer.body).toMatchObject({
      error: {
        json: {
          message: `A batch may hold at most ${MAX_BATCH} calls; this one has 150`,
          data: { code: 'BAD_REQUEST' },
        },
      },
    });
  });

  test(`${MAX_BATCH} calls in an HTTP batch are answered, ${MAX_BATCH + 1} refused; a WebSocket frame may add one per subscription a connection may hold`, async () => {
    // A WebSocket client sends every call queued in one turn in one frame: a page that opens all its subscriptions at once is not refused.
    const subscriptions = 7;
    const wsMax = MAX_BATCH + subscriptions;
    await using ctx = await startTestApp({
      env: { MAX_SUBSCRIPTIONS_PER_CONNECTION: String(subscriptions) },
    });
    await seed(ctx, 1, buddy);
    const calls = (n: number) => Array.from({ length: n }, () => ({ path: 'pets.get', input: { id: '1' } }));

    const full = await batch(ctx, calls(MAX_BATCH));
    expect(full.status).toBe(200);
    expect(full.body).toHaveLength(MAX_BATCH);
    const over = await batch(ctx, calls(MAX_BATCH + 1));
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({
      error: {
        json: { message: `A batch may hold at most ${MAX_BATCH} calls; this one has ${MAX_BATCH + 1}` },
      },
    });

    const socket = new RawSocket(ctx.wsUrl);
    await socket.opened();
    const frames = (first: number, n: number) =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          id: first + i,
          method: 'query',
          params: { path: 'pets.get', input: transformer.serialize({ id: '1' }) },
        })),
      );
    socket.send(frames(1, wsMax));
    for (let id = 1; id <= wsMax; id += 1) {
      expect(await socket.frame((f) => f['id'] === id)).toHaveProperty('result');
    }
    socket.send(frames(1001, wsMax + 1));
    for (let id = 1001; id <= 1001 + wsMax; id += 1) {
      expect(errorOf(await socket.frame((f) => f['id'] === id))).toEqual({
        code: 'BAD_REQUEST',
        message: 'Batch call exceeds maximum size',
      });
    }
    socket.close();
  });
});

describe('pages', () => {
  test(`a page holds 50 by default and never more than its limit; limit ${PAGE_MAX} is accepted, ${PAGE_MAX + 1} refused`, async () => {
    await using ctx = await startTestApp();
    await seed(ctx, 120, buddy);
    const first = await ctx.client.pets.list.query();
    expect(first.items).toHaveLength(50);
    expect(first.items.map((p) => p.id)).toEqual(Array.from({ length: 50 }, (_, i) => String(120 - i)));
    expect(first.nextCursor).toBe('71');
    expect((await ctx.client.pets.list.query({ limit: PAGE_MAX })).items).toHaveLength(PAGE_MAX);
    expect((await ctx.client.pets.list.query({ limit: 1 })).items).toHaveLength(1);

    for (const limit of [0, PAGE_MAX + 1]) {
      const rest = await fetch(`${ctx.url}/pets?limit=${limit}`);
      expect(rest.status).toBe(400);
      expect(await rest.json()).toMatchObject({
        error: { code: 'BAD_REQUEST', fieldErrors: { limit: [expect.any(String)] } },
      });
    }
    const badCursor = await fetch(`${ctx.url}/pets?cursor=latest`);
    expect(badCursor.status).toBe(400);
    expect(await badCursor.json()).toMatchObject({
      error: { fieldErrors: { cursor: ['must be the nextCursor of a previous page'] } },
    });
  });

  test('walking the pages visits every pet once, newest first, while pets are created meanwhile (tRPC and REST)', async () => {
    await using ctx = await startTestApp();
    await seed(ctx, 23, buddy);
    const before = Array.from({ length: 23 }, (_, i) => String(23 - i));

    const walked: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: { id: string }[]; nextCursor: string | null } = await ctx.client.pets.list.query({
        limit: 5,
        cursor,
      });
      expect(page.items.length).toBeLessThanOrEqual(5);
      walked.push(...page.items.map((p) => p.id));
      cursor = page.nextCursor;
      pages += 1;
      // A pet created between two pages is newer than every cursor: it never shows up later in this walk.
      await ctx.client.pets.create.mutate({ ...buddy, name: `Meanwhile ${pages}` });
    } while (cursor !== null);
    expect(pages).toBe(5);
    expect(walked).toEqual(before);

    const viaRest = await allPages(async ({ limit, cursor: next }) => {
      const response = await fetch(`${ctx.url}/pets?limit=${limit}${next === null ? '' : `&cursor=${next}`}`);
      return (await response.json()) as { items: { id: string }[]; nextCursor: string | null };
    }, 4);
    expect(viaRest.map((p) => p.id)).toEqual(Array.from({ length: 28 }, (_, i) => String(28 - i)));
  });
});

describe('answers', () => {
  test('the answers of one request share MAX_RESPONSE_BYTES: calls past it get PAYLOAD_TOO_LARGE, the body stays within it', async () => {
    await using ctx = await startTestApp();
    await seed(ctx, PAGE_MAX);
    const caller = createCaller(createContextFactory(ctx.app.engine)());
    const pageBytes = Buffer.byteLength(JSON.stringify(await caller.pets.list({ limit: PAGE_MAX })));
    const fitting = Math.floor(DEFAULT_MAX_RESPONSE_BYTES / pageBytes);
    expect(fitting).toBeGreaterThan(0);
    expect(fitting).toBeLessThan(MAX_BATCH);

    const answer = await batch(
      ctx,
      Array.from({ length: MAX_BATCH }, () => ({ path: 'pets.list', input: { limit: PAGE_MAX } })),
    );
    expect(answer.status).toBe(207);
    const answers = answer.body as Answer[];
    expect(answers.map(codeOf)).toEqual([
      ...Array.from({ length: fitting }, () => undefined),
      ...Array.from({ length: MAX_BATCH - fitting }, () => 'PAYLOAD_TOO_LARGE'),
    ]);
    for (const ok of answers.slice(0, fitting)) expect(itemsOf(ok)).toHaveLength(PAGE_MAX);
    expect(answers[fitting]?.error?.json['message']).toBe(
      `The answer would exceed ${DEFAULT_MAX_RESPONSE_BYTES} bytes for one request; ask for smaller pages or fewer calls per batch`,
    );
    // The pages, plus the envelopes and the refusals.
    expect(answer.bytes).toBeLessThan(DEFAULT_MAX_RESPONSE_BYTES + 64 * 1024);
  });

  test('one call over MAX_RESPONSE_BYTES is refused alone, over HTTP and WebSocket; a smaller page passes', async () => {
    await using ctx = await startTestApp({ env: { MAX_RESPONSE_BYTES: '16384' } });
    await seed(ctx, 10);
    const refused = await batch(ctx, [{ path: 'pets.list', input: { limit: 10 } }]);
    expect(refused.body).toMatchObject([{ error: { json: { data: { code: 'PAYLOAD_TOO_LARGE' } } } }]);
    expect(refused.status).toBe(413);
    const fits = await batch(ctx, [{ path: 'pets.list', input: { limit: 5 } }]);
    expect(itemsOf((fits.body as Answer[])[0] ?? {})).toHaveLength(5);

    const socket = new RawSocket(ctx.wsUrl);
    await socket.opened();
    socket.call(1, 'query', 'pets.list', { limit: 10 });
    expect(errorOf(await socket.frame((f) => f['id'] === 1))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    socket.call(2, 'query', 'pets.list', { limit: 5 });
    expect(await socket.frame((f) => f['id'] === 2)).toHaveProperty('result');
    socket.close();
  });

  test('/healthz answers while six of the largest allowed batches run, and each of them stays bounded', async () => {
    await using ctx = await startTestApp();
    await seed(ctx, PAGE_MAX);
    const heavyBatches = Array.from({ length: 6 }, () =>
      batch(
        ctx,
        Array.from({ length: MAX_BATCH }, () => ({ path: 'pets.list', input: { limit: PAGE_MAX } })),
      ),
    );
    const health = await fetch(`${ctx.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    for (const answer of await Promise.all(heavyBatches)) {
      expect(answer.status).toBe(207);
      expect(answer.bytes).toBeLessThan(DEFAULT_MAX_RESPONSE_BYTES + 64 * 1024);
    }
  });
});
