import { TRPCClientError } from '@trpc/client';
import { describe, expect, test } from 'vitest';

import type { AppRouter } from '../../client/create-client.js';
import { max } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';

const CALLS = 2000;
/** The longest stream token traces.get takes. */
const TOKEN_MAX = 1024;

/** The tRPC error code a call failed with, or the failure itself when it is not a tRPC answer. */
async function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => 'ok',
    (error: unknown) =>
      (error instanceof TRPCClientError ? (error as TRPCClientError<AppRouter>).data?.code : undefined) ??
      String(error),
  );
}

describe('the typed client under many concurrent calls', { timeout: 30_000 }, () => {
  test(`${CALLS} concurrent pets.create calls, then as many pets.get, all answered`, async () => {
    await using ctx = await startTestApp();
    const created = await Promise.all(
      Array.from({ length: CALLS }, (_, i) => ctx.client.pets.create.mutate({ ...max, name: `Max ${i}` })),
    );
    expect(created.map((c) => c.pet.name)).toEqual(Array.from({ length: CALLS }, (_, i) => `Max ${i}`));
    expect(new Set(created.map((c) => c.pet.id)).size).toBe(CALLS);
    expect(new Set(created.map((c) => c.traceId)).size).toBe(CALLS);
    expect(created.every((c) => /^[0-9a-f]{32}$/.test(c.traceId))).toBe(true);

    const fetched = await Promise.all(created.map((c) => ctx.client.pets.get.query({ id: c.pet.id })));
    expect(fetched.map((p) => p.id)).toEqual(created.map((c) => c.pet.id));
  });

  test('concurrent queries with the longest inputs the API takes each get their own answer', async () => {
    await using ctx = await startTestApp();
    const { traceId, streamToken } = await ctx.client.pets.create.mutate(max);
    // Queries carry their input in the URL: these fill one fast.
    const longest = streamToken.padEnd(TOKEN_MAX, 'A');
    const tooLong = streamToken.padEnd(TOKEN_MAX + 1, 'A');
    const calls = [
      ...Array.from({ length: 200 }, () => ctx.client.trpc.traces.get.query({ traceId, token: longest })),
      ctx.client.trpc.traces.get.query({ traceId, token: tooLong }),
      ctx.client.trpc.traces.get.query({ traceId, token: streamToken }),
    ];
    expect(await Promise.all(calls.map(outcome))).toEqual([
      ...Array.from({ length: 200 }, () => 'UNAUTHORIZED'),
      'BAD_REQUEST',
      'ok',
    ]);
  });
});
