import { TRPCClientError } from '@trpc/client';
import { describe, expect, test } from 'vitest';

import { WatchError } from '../../client/create-client.js';
import { StreamTokens } from '../../server/engine/security/stream-tokens.js';
import { collect } from '../support/async.js';
import { buddy, max } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp } from '../support/test-app.js';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The call's error: a TRPCClientError, or the WatchError a watch ends with (its `data` is the server's). */
async function errorOf(promise: Promise<unknown>): Promise<TRPCClientError<never> | WatchError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (error instanceof WatchError) return error;
  if (!(error instanceof TRPCClientError))
    throw new Error(`expected a TRPCClientError, got ${String(error)}`);
  return error as TRPCClientError<never>;
}

describe('petCreation.onUpdate over WebSocket', () => {
  test('a late subscriber gets the whole history after the workflow finished', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(max);
    await ctx.app.engine.workflows.onFinished(created.traceId);
    const late = ctx.newClient();
    const events = await collect(late.watchPetCreation(created.traceId, created.streamToken));
    expectCompleteWorkflow(events, max);
  });

  test('several subscribers of one workflow each get every event once', async () => {
    await using ctx = await startTestApp({ env: { FEEDING_CHECK_DELAY_MS: '5' } });
    const created = await ctx.client.pets.create.mutate(buddy);
    const watchers = Array.from({ length: 5 }, () =>
      collect(ctx.newClient().watchPetCreation(created.traceId, created.streamToken)),
    );
    for (const events of await Promise.all(watchers)) expectCompleteWorkflow(events, buddy);
  });

  test('resuming from any event id yields exactly the events after it', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(max);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    expect(all).toHaveLength(11);
    for (const index of [0, 1, 4, 9]) {
      const lastEventId = all[index]?.eventId ?? null;
      const resumed = await collect(
        ctx.client.watchPetCreation(created.traceId, created.streamToken, { lastEventId }),
      );
      expect(resumed).toEqual(all.slice(index + 1));
    }
  });

  test('tokens: missing, forged, expired and foreign tokens get no event at all', async () => {
    await using ctx = await startTestApp();
    const a = await ctx.client.pets.create.mutate(max);
    const b = await ctx.client.pets.create.mutate(buddy);
    const watch = (token: string) => collect(ctx.newClient().watchPetCreation(a.traceId, token));

    expect((await errorOf(watch(''))).data).toMatchObject({ code: 'UNAUTHORIZED' });
    // Another spelling of the same signature: its last character with the spare bits set.
    const respelled = a.streamToken.replace(/.$/, (c) => BASE64URL.charAt(BASE64URL.indexOf(c) | 3));
    expect(Buffer.from(respelled.split('.')[4] ?? '', 'base64url')).toEqual(
      Buffer.from(a.streamToken.split('.')[4] ?? '', 'base64url'),
    );
    expect((await errorOf(watch(respelled))).data).toMatchObject({ code: 'UNAUTHORIZED' });
    // A different signature: the first character's bits changed.
    const forged = a.streamToken.replace(
      /\.(.)([^.]+)$/,
      (_, c: string, rest: string) => `.${BASE64URL.charAt(BASE64URL.indexOf(c) ^ 32)}${rest}`,
    );
    expect(forged).not.toBe(a.streamToken);
    expect((await errorOf(watch(forged))).data).toMatchObject({ code: 'UNAUTHORIZED' });
    for (const signature of ['', 'A', a.streamToken.slice(-43, -1), `${a.streamToken.slice(-43)}AAAA`]) {
      const truncated = a.streamToken.replace(/[^.]*$/, signature);
      expect((await errorOf(watch(truncated))).data).toMatchObject({ code: 'UNAUTHORIZED' });
    }
    expect((await errorOf(watch('not-a-token'))).data).toMatchObject({ code: 'UNAUTHORIZED' });
    const otherSecret = new StreamTokens({ secret: 'another-secret-another-secret-1234', ttlSeconds: 60 });
    expect((await errorOf(watch(otherSecret.issue('petCreation', a.traceId)))).data).toMatchObject({
      code: 'UNAUTHORIZED',
    });
    const expired = new StreamTokens({
      secret: 'test-secret-that-is-at-least-32-characters-long',
      ttlSeconds: 60,
      now: () => Date.now() - 3_600_000,
    }).issue('petCreation', a.traceId);
    const expiredError = await errorOf(watch(expired));
    expect(expiredError.data).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(expiredError.message).toMatch(/expired/);
    expect((await errorOf(watch(b.streamToken))).data).toMatchObject({ code: 'FORBIDDEN' });
    // Tokens are scoped per workflow kind: this workflow's own id, signed, but for another kind.
    const otherKind = new StreamTokens({
      secret: 'test-secret-that-is-at-least-32-characters-long',
      ttlSeconds: 60,
    }).issue('adoption', a.traceId);
    expect((await errorOf(watch(otherKind))).data).toMatchObject({ code: 'FORBIDDEN' });
  });

  test('an unknown workflow is NOT_FOUND and a malformed trace id is BAD_REQUEST', async () => {
    await using ctx = await startTestApp();
    const tokens = new StreamTokens({
      secret: 'test-secret-that-is-at-least-32-characters-long',
      ttlSeconds: 60,
    });
    const unknown = 'f'.repeat(32);
    const notFound = await errorOf(
      collect(ctx.client.watchPetCreation(unknown, tokens.issue('petCreation', unknown))),
    );
    expect(notFound.data).toMatchObject({ code: 'NOT_FOUND' });
    const bad = await errorOf(collect(ctx.client.watchPetCreation('../etc', 'x')));
    expect(bad.data).toMatchObject({ code: 'BAD_REQUEST', fieldErrors: { traceId: expect.any(Array) } });
  });

  test('bad input over HTTP names each field and stores nothing', async () => {
    await using ctx = await startTestApp();
    // @ts-expect-error deliberately malformed input
    const error = await errorOf(ctx.client.pets.create.mutate({ name: '', species: 'fish', ageMonths: -3 }));
    expect(error.data).toMatchObject({
      code: 'BAD_REQUEST',
      httpStatus: 400,
      fieldErrors: { name: expect.any(Array), species: expect.any(Array), ageMonths: expect.any(Array) },
    });
    expect(error.message).toMatch(/name.*species.*ageMonths/);
    expect((await errorOf(ctx.client.pets.get.query({ id: '1' }))).data).toMatchObject({ code: 'NOT_FOUND' });
  });

  test('a name that is not valid UTF-8 over HTTP is refused, naming the field, and nothing is stored', async () => {
    await using ctx = await startTestApp();
    const body = Buffer.concat([
      Buffer.from('{"json":{"name":"Re'),
      Buffer.from([0xff, 0xc3]),
      Buffer.from('x","species":"dog","ageMonths":12}}'),
    ]);
    const response = await fetch(`${ctx.url}/trpc/pets.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(400);
    const reason = 'must not contain U+FFFD, the replacement character (the text was not valid UTF-8)';
    expect(await response.json()).toMatchObject({
      error: {
        json: {
          message: `Invalid input: name: ${reason}`,
          data: { code: 'BAD_REQUEST', fieldErrors: { name: [reason] } },
        },
      },
    });
    expect((await errorOf(ctx.client.pets.get.query({ id: '1' }))).data).toMatchObject({ code: 'NOT_FOUND' });
  });
});
