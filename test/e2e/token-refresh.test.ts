/**
 * Token refresh without losing position: `workflows.refreshToken` trades a
 * valid token for a new one, and the client's watch does it by itself, so
 * that once its first token has expired a reconnect still opens the
 * workflow and continues after its last event, with no gap and no
 * duplicate. Over WebSocket and SSE, on memory and Redis, with a one-second
 * token lifetime (STREAM_TOKEN_TTL_SECONDS).
 */
import { afterAll, describe, expect, test, vi } from 'vitest';

import { StreamTokens } from '../../server/engine/security/stream-tokens.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { streamTokenExpiry } from '../../shared/stream-token.js';
import { SETTLES } from '../support/async.js';
import { createTestCaller } from '../support/caller.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { rejection } from '../support/errors.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy, max } from '../support/pets.js';
import { bothBackends, deleteKeys, randomKeyPrefix } from '../support/redis.js';
import { storedLog, storedNow } from '../support/stored.js';
import { tapTransports } from '../support/tapped-transports.js';
import { startTestApp } from '../support/test-app.js';
import { testConfig } from '../support/test-config.js';
import { openWorkflowWatch, TRANSPORTS, watchWorkflow } from '../support/workflow-watch.js';

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

const SHORT_LIVED = { STREAM_TOKEN_TTL_SECONDS: '1' };

const cases = bothBackends(prefix).flatMap((backend) =>
  (['ws', 'sse'] as const).map((transport) => ({ ...backend, transport })),
);

describe.each(cases)('token refresh over $transport on $name', ({ env, transport }) => {
  test('the watch refreshes its token in time; after the first one expired, a reconnect resumes with no gap or duplicate', async () => {
    const gate = createDeferred<void>();
    await using ctx = await startTestApp({
      env: { ...env, ...SHORT_LIVED },
      steps: gatedSteps('AiProfileEnrichment', gate.promise),
    });
    const tap = tapTransports();
    const client = ctx.newClient({ transport, WebSocket: tap.WebSocket, EventSource: tap.EventSource });
    const created = await client.pets.create.mutate(max);
    const { traceId, streamToken: first } = created;
    const tokens: string[] = [];
    const states: string[] = [];
    const watch = client.watchPetCreation(traceId, first, {
      onTokenRefresh: (token) => tokens.push(token),
      onStateChange: ({ state }) => states.push(state),
    });
    const received: PetCreationEvent[] = [];
    const done = (async () => {
      for await (const event of watch) received.push(event);
    })();
    await ctx.waitForLog((line) => line.traceId === traceId && line.msg === '✅ Next feeding reminder set');

    // Until the first token has expired: from then on only a refreshed one opens the workflow.
    const { tokens: verifier } = ctx.app.engine;
    await vi.waitFor(() => expect(verifier.verify('petCreation', traceId, first)).toBe('expired'), SETTLES);
    expect(tokens.length).toBeGreaterThan(0);
    expect(new Set([first, ...tokens]).size).toBe(tokens.length + 1);
    const sofar = await storedNow(ctx.app.engine, traceId);
    await vi.waitFor(() => expect(received).toHaveLength(sofar.length), SETTLES);

    const reconnects = states.filter((state) => state === 'reconnecting').length;
    ctx.app.destroyConnections();
    await vi.waitFor(() => {
      expect(states.filter((state) => state === 'reconnecting').length).toBe(reconnects + 1);
      expect(states.at(-1)).toBe('open');
    }, SETTLES);
    // What the server sent so far, over every connection: each event once, in order.
    expect(tap.events()).toEqual(sofar);

    gate.resolve();
    await done;
    const stored = await storedNow(ctx.app.engine, traceId);
    expect(received).toEqual(stored);
    expect(received.at(-1)?.kind).toBe('finished');
    expect(watch.token).toBe(tokens.at(-1));
    expect(verifier.verify('petCreation', traceId, watch.token)).not.toBe('invalid');
  });
});

describe.each(bothBackends(prefix))(
  'a refreshed token across an expiry, as the server sends it ($name)',
  ({ env }) => {
    test('on every transport: the expired token is refused, the refreshed one resumes after the last event, every event once', async () => {
      const gate = createDeferred<void>();
      await using ctx = await startTestApp({
        env: { ...env, ...SHORT_LIVED },
        steps: gatedSteps('AiProfileEnrichment', gate.promise),
      });
      const created = await ctx.client.pets.create.mutate(max);
      const { traceId, streamToken: first } = created;
      await ctx.waitForLog((line) => line.traceId === traceId && line.msg === '✅ Next feeding reminder set');
      const sofar = await storedLog(ctx.app.engine, traceId);
      const watches = await Promise.all(
        TRANSPORTS.map((transport) => openWorkflowWatch(ctx.url, transport, { traceId, token: first })),
      );
      await Promise.all(watches.map((watch) => watch.received(sofar.length)));
      // Expiries are whole seconds: a token refreshed in its last second outlives it (as the client's 3/4 rule does).
      const firstExpiry = streamTokenExpiry(first) ?? 0;
      await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(firstExpiry - 500), SETTLES);
      const { token: second } = await ctx.client.workflows.refreshToken.mutate({ traceId, token: first });
      expect(streamTokenExpiry(second)).toBeGreaterThan(firstExpiry);
      const { tokens: verifier } = ctx.app.engine;
      await vi.waitFor(() => expect(verifier.verify('petCreation', traceId, first)).toBe('expired'), SETTLES);
      for (const watch of watches) watch.close();
      const lastEventId = sofar.at(-1)?.eventId ?? '0';

      const refused = await Promise.all(
        TRANSPORTS.map((transport) =>
          watchWorkflow(ctx.url, transport, { traceId, token: first, lastEventId }),
        ),
      );
      for (const watch of refused) {
        expect(watch.end).toMatchObject({
          kind: 'error',
          code: 'UNAUTHORIZED',
          message: 'The stream token has expired',
        });
        expect(watch.events).toEqual([]);
      }
      // A token refreshed from the refreshed one: the chain goes on past every expiry.
      const { token: third } = await ctx.client.workflows.refreshToken.mutate({ traceId, token: second });
      const resumed = await Promise.all(
        [second, third].flatMap((token) =>
          TRANSPORTS.map((transport) =>
            openWorkflowWatch(ctx.url, transport, { traceId, token, lastEventId }),
          ),
        ),
      );
      gate.resolve();
      await ctx.app.engine.workflows.onFinished(traceId);
      const log = await storedLog(ctx.app.engine, traceId);
      for (const [i, watch] of (await Promise.all(resumed.map((w) => w.ended))).entries()) {
        const label = `${TRANSPORTS[i % TRANSPORTS.length] ?? ''} with token ${i < TRANSPORTS.length ? 2 : 3}`;
        expect(watch.end, label).toEqual({ kind: 'completed' });
        expectExactlyOnceInOrder(watch.events, log, { after: lastEventId, label });
      }
      expect(log.slice(0, sofar.length)).toEqual(sofar);
    });
  },
);

describe('workflows.refreshToken', () => {
  test('a valid token gets a new one of the same workflow and kind; an expired, foreign or missing one is refused', async () => {
    await using ctx = createTestCaller();
    const { caller, engine } = ctx;
    const created = await caller.pets.create(max);
    const other = await caller.pets.create(buddy);

    const refreshed = await caller.workflows.refreshToken({
      traceId: created.traceId,
      token: created.streamToken,
    });
    expect(engine.tokens.verify('petCreation', created.traceId, refreshed.token)).toBe('ok');
    expect(Date.parse(refreshed.expiresAt)).toBe(streamTokenExpiry(refreshed.token));
    expect(Date.parse(refreshed.expiresAt)).toBeGreaterThanOrEqual(
      streamTokenExpiry(created.streamToken) ?? 0,
    );
    // The new token opens what the first one did, and no more.
    expect(engine.tokens.verify('adoption', created.traceId, refreshed.token)).toBe('wrong-kind');
    expect(engine.tokens.verify('petCreation', other.traceId, refreshed.token)).toBe('other-workflow');

    const expired = new StreamTokens({
      secret: testConfig().streams.tokenSecret ?? '',
      ttlSeconds: 1,
      now: () => Date.now() - 60_000,
    }).issue('petCreation', created.traceId);
    const late = await rejection(caller.workflows.refreshToken({ traceId: created.traceId, token: expired }));
    expect([late.code, late.message]).toEqual(['UNAUTHORIZED', 'The stream token has expired']);
    const foreign = await rejection(
      caller.workflows.refreshToken({ traceId: created.traceId, token: other.streamToken }),
    );
    expect(foreign.code).toBe('FORBIDDEN');
    const missing = await rejection(caller.workflows.refreshToken({ traceId: created.traceId }));
    expect(missing.code).toBe('UNAUTHORIZED');
    const unknownId = '0123456789abcdef0123456789abcdef';
    const unknown = await rejection(
      caller.workflows.refreshToken({
        traceId: unknownId,
        token: engine.tokens.issue('petCreation', unknownId),
      }),
    );
    expect(unknown.code).toBe('NOT_FOUND');
  });
});
