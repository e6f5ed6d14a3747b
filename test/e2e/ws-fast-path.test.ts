/**
 * The WebSocket fast path for `petCreation.onUpdate` sends exactly the
 * frames tRPC's own adapter sends. Each test serves the same app (same
 * workflows, same tokens) on two WebSocket endpoints, one with the fast
 * path and one without, and compares the text of the frames a raw `ws`
 * client receives from each.
 */
import http from 'node:http';

import { afterAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';

import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { transformer } from '../../shared/transformer.js';
import { createContextFactory } from '../../server/context.js';
import { appRouter } from '../../server/router/app-router.js';
import { attachWsServer } from '../../server/transport/ws-server.js';
import { collect, END_AFTER_FINISHED_MS, SETTLES, within } from '../support/async.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy, max } from '../support/pets.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const PATH = 'petCreation.onUpdate';

/** A `ws` client keeping every frame's text, in order. */
class TextSocket {
  readonly socket: WebSocket;
  readonly frames: string[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on('message', (raw: Buffer) => {
      this.frames.push(raw.toString());
      for (const wake of this.#waiters) wake();
    });
    this.socket.on('error', () => {});
    this.socket.once('close', () => {
      for (const wake of this.#waiters) wake();
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState === WebSocket.OPEN) return resolve();
      this.socket.once('open', () => resolve());
      this.socket.once('close', () => reject(new Error('closed before open')));
    });
  }

  subscribe(id: number | string, input: unknown, extra: Record<string, unknown> = {}): void {
    const { lastEventId, ...message } = extra;
    this.socket.send(
      JSON.stringify({
        ...message,
        id,
        method: 'subscription',
        params: { path: PATH, input: transformer.serialize(input), ...(lastEventId ? { lastEventId } : {}) },
      }),
    );
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Frames for request `id`, once `done` says the last one came. */
  async framesOf(id: number | string, done: (frames: string[]) => boolean): Promise<string[]> {
    for (;;) {
      const mine = this.frames.filter((frame) => (JSON.parse(frame) as { id: unknown }).id === id);
      if (done(mine)) return mine;
      if (this.socket.readyState === WebSocket.CLOSED)
        throw new Error(`socket closed; had ${mine.join('\n')}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }

  /**
   * All frames of `id` up to and including its `stopped` frame, which must
   * follow the finished event (or an error) at once.
   */
  async untilStopped(id: number | string): Promise<string[]> {
    await this.framesOf(id, (frames) => frames.some((frame) => isStopped(frame) || isLast(frame)));
    return within(
      this.framesOf(id, (frames) => frames.some(isStopped)),
      END_AFTER_FINISHED_MS,
      `the stopped frame of subscription ${id}`,
    );
  }

  close(): void {
    this.socket.terminate();
  }
}

const withoutResetTime = (frame: string) =>
  frame.replace(/("kind":"reset","data":null,"time":)"[^"]*"/, '$1"…"');

const isStopped = (frame: string) => frame.includes('"result":{"type":"stopped"}');

/** The finished event, or an error: only `stopped` may follow. */
const isLast = (frame: string) => frame.includes('"kind":"finished"') || frame.includes('"error":');

/** The events in a subscription's data frames, in order. */
function eventsOf(frames: readonly string[]): PetCreationEvent[] {
  return frames.flatMap((frame) => {
    const { result } = JSON.parse(frame) as {
      result?: { type: string; data?: Parameters<typeof transformer.deserialize>[0] };
    };
    if (result?.type !== 'data' || result.data === undefined) return [];
    return [transformer.deserialize<{ data: PetCreationEvent }>(result.data).data];
  });
}

const prefix = randomKeyPrefix();
afterAll(() => deleteKeys(prefix));

const backends = [
  { backend: 'memory', env: {} },
  { backend: 'redis', env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix } },
] as const;

type Endpoints = AsyncDisposable & {
  readonly fast: string;
  readonly plain: string;
  readonly open: () => Promise<{ readonly fast: TextSocket; readonly plain: TextSocket }>;
};

/** The app's own endpoint (fast path on by default) and a second one without it, over the same services. */
async function endpoints(ctx: TestApp, maxSubscriptionsPerConnection = 100): Promise<Endpoints> {
  const server = http.createServer();
  const ws = attachWsServer(server, {
    router: appRouter,
    createContext: createContextFactory(ctx.app.services),
    maxPayloadBytes: 1_048_576,
    maxConnections: 1000,
    pingMs: 0,
    maxBufferedBytes: 1_048_576,
    slowConsumerMs: 2000,
    fastPath: false,
    maxSubscriptionsPerConnection,
    allowedOrigins: [],
    apiKeys: ctx.app.services.apiKeys,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const plain = `ws://127.0.0.1:${port}/trpc`;
  const sockets: TextSocket[] = [];
  return {
    fast: ctx.wsUrl,
    plain,
    open: async () => {
      const pair = { fast: new TextSocket(ctx.wsUrl), plain: new TextSocket(plain) };
      sockets.push(pair.fast, pair.plain);
      await Promise.all([pair.fast.opened(), pair.plain.opened()]);
      return pair;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.close();
      await ws.close(100);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const shared = (ctx: TestApp) => ctx.app.services.backends.streamStorage;

describe.each(backends)('WebSocket fast path resuming ($backend)', ({ env }) => {
  test('resume with lastEventId: the same frames, starting after that event, each event once', async () => {
    await using ctx = await startTestApp({ env });
    await using ends = await endpoints(ctx);
    const created = await ctx.client.pets.create.mutate(max);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    const { fast, plain } = await ends.open();
    const input = { traceId: created.traceId, token: created.streamToken };
    const after = all[3]?.eventId ?? '';
    for (const socket of [fast, plain]) socket.subscribe(7, input, { lastEventId: after });
    const frames = await fast.untilStopped(7);
    expect(frames).toEqual(await plain.untilStopped(7));
    expect(frames).toHaveLength(all.length - 4 + 2);
    expect(frames[1]).toContain(`"id":"${all[4]?.eventId}"`);
    expectExactlyOnceInOrder(eventsOf(frames), all, { after });
  });

  test('a connection cut mid-workflow, resumed on a new one: together, every event once, with and without the fast path', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({ env, steps: gatedSteps('FeedingReminder', feeding.promise) });
    await using ends = await endpoints(ctx);
    const created = await ctx.client.pets.create.mutate(buddy);
    const input = { traceId: created.traceId, token: created.streamToken };
    const before = await ends.open();
    for (const socket of [before.fast, before.plain]) socket.subscribe(1, input);
    // Started and the first three events, then the connections are gone.
    const cut = await Promise.all(
      [before.fast, before.plain].map((socket) => socket.framesOf(1, (frames) => frames.length >= 4)),
    );
    before.fast.close();
    before.plain.close();
    const seen = cut.map((frames) => eventsOf(frames));
    const after = await ends.open();
    [after.fast, after.plain].forEach((socket, i) =>
      socket.subscribe(1, input, { lastEventId: seen[i]?.at(-1)?.eventId }),
    );
    feeding.resolve();
    const resumed = await Promise.all([after.fast.untilStopped(1), after.plain.untilStopped(1)]);
    const stored = await collect(ctx.app.services.streams.petCreation.subscribe(created.traceId));
    for (const [i, frames] of resumed.entries()) {
      expectExactlyOnceInOrder([...(seen[i] ?? []), ...eventsOf(frames)], stored, {
        label: i === 0 ? 'fast path' : 'tRPC adapter',
      });
    }
  });
});

describe('WebSocket fast path for petCreation.onUpdate', () => {
  test('a finished workflow: the same frames, byte for byte, with and without the fast path', async () => {
    await using ctx = await startTestApp();
    await using ends = await endpoints(ctx);
    const created = await ctx.client.pets.create.mutate(max);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    const { fast, plain } = await ends.open();
    const input = { traceId: created.traceId, token: created.streamToken };
    for (const socket of [fast, plain]) {
      socket.subscribe(1, input);
      socket.subscribe('two', input, { jsonrpc: '2.0' });
    }
    const fastFrames = await fast.untilStopped(1);
    expect(fastFrames).toEqual(await plain.untilStopped(1));
    expect(await fast.untilStopped('two')).toEqual(await plain.untilStopped('two'));
    // started, every event, stopped.
    expect(fastFrames).toHaveLength(all.length + 2);
    expect(fastFrames[0]).toBe('{"id":1,"result":{"type":"started"}}');
    expect(fastFrames.at(-1)).toBe('{"id":1,"result":{"type":"stopped"}}');
    const delivered = fastFrames.slice(1, -1).map((frame) => {
      const parsed = JSON.parse(frame) as {
        result: { id: string; data: Parameters<typeof transformer.deserialize>[0] };
      };
      return transformer.deserialize<{ id: string; data: unknown }>(parsed.result.data);
    });
    expect(delivered.map((item) => item.data)).toEqual(all);
  });

  test('resume after trimmed history: the same reset event first, then what is kept', async () => {
    await using ctx = await startTestApp({ env: { STREAM_HISTORY_LIMIT: '3' } });
    await using ends = await endpoints(ctx);
    const created = await ctx.client.pets.create.mutate(max);
    await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    const { fast, plain } = await ends.open();
    const input = { traceId: created.traceId, token: created.streamToken };
    for (const socket of [fast, plain]) socket.subscribe(1, input, { lastEventId: '1' });
    const frames = await fast.untilStopped(1);
    expect(frames.map(withoutResetTime)).toEqual((await plain.untilStopped(1)).map(withoutResetTime));
    expect(frames).toHaveLength(1 + 1 + 3 + 1);
    expect(frames[1]).toContain('"kind":"reset"');
  });

  test('live events: each subscriber gets the same frames as without the fast path, from one listener', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('FeedingReminder', feeding.promise) });
    await using ends = await endpoints(ctx);
    const created = await ctx.client.pets.create.mutate(buddy);
    const input = { traceId: created.traceId, token: created.streamToken };
    const first = await ends.open();
    const second = await ends.open();
    const listenersBefore = shared(ctx).listenerCount();
    for (const socket of [first.fast, first.plain, second.fast, second.plain]) socket.subscribe(1, input);
    await Promise.all(
      [first.fast, first.plain, second.fast, second.plain].map((socket) =>
        socket.framesOf(1, (frames) => frames.length >= 2),
      ),
    );
    // Two fast subscribers share one storage listener; the plain ones hold one each.
    expect(shared(ctx).listenerCount() - listenersBefore).toBe(3);
    const active = [...ctx.app.services.observability.metrics.streams.streams()].find(
      ([name]) => name === 'petCreation',
    );
    expect(active?.[1].active).toBe(4);

    feeding.resolve();
    const frames = await first.fast.untilStopped(1);
    expect(frames).toEqual(await first.plain.untilStopped(1));
    expect(await second.fast.untilStopped(1)).toEqual(frames);
    expect(await second.plain.untilStopped(1)).toEqual(frames);
    await expect.poll(() => shared(ctx).listenerCount(), SETTLES).toBe(listenersBefore);
  });

  test('subscription.stop: stopped at once, nothing more for that id, the slot is free again', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('FeedingReminder', feeding.promise) });
    await using ends = await endpoints(ctx, 1);
    const created = await ctx.client.pets.create.mutate(buddy);
    const input = { traceId: created.traceId, token: created.streamToken };
    const { fast, plain } = await ends.open();
    for (const socket of [fast, plain]) socket.subscribe(1, input);
    await Promise.all([fast, plain].map((socket) => socket.framesOf(1, (frames) => frames.length >= 2)));
    for (const socket of [fast, plain]) socket.send({ id: 1, method: 'subscription.stop' });
    // How many live events came before the stop is a matter of timing: both are a prefix of the same stream.
    const stoppedFast = await fast.untilStopped(1);
    const stoppedPlain = await plain.untilStopped(1);
    expect(stoppedFast.at(-1)).toBe('{"id":1,"result":{"type":"stopped"}}');
    expect(stoppedPlain.at(-1)).toBe(stoppedFast.at(-1));
    const common = Math.min(stoppedFast.length, stoppedPlain.length) - 1;
    expect(stoppedFast.slice(0, common)).toEqual(stoppedPlain.slice(0, common));

    // With one slot per connection, a new subscription is admitted only if the stopped one gave its slot back.
    for (const socket of [fast, plain]) socket.subscribe(2, input);
    await Promise.all([fast, plain].map((socket) => socket.framesOf(2, (frames) => frames.length >= 2)));
    feeding.resolve();
    expect(await fast.untilStopped(2)).toEqual(await plain.untilStopped(2));
    expect(await fast.framesOf(1, () => true)).toEqual(stoppedFast);
  });

  test('errors: the same error frames for bad input, tokens, unknown workflows, duplicate ids and full slots', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({
      steps: gatedSteps('FeedingReminder', feeding.promise),
      env: { MAX_SUBSCRIPTIONS_PER_CONNECTION: '1' },
    });
    await using ends = await endpoints(ctx, 1);
    const created = await ctx.client.pets.create.mutate(buddy);
    const other = await ctx.client.pets.create.mutate(max);
    const unknownTraceId = 'f'.repeat(32);
    const cases: [string, unknown, Record<string, unknown>][] = [
      ['bad-trace-id', { traceId: 'nope', token: created.streamToken }, {}],
      ['extra-key', { traceId: created.traceId, token: created.streamToken, extra: 1 }, {}],
      ['bad-last-event-id', { traceId: created.traceId, token: created.streamToken }, { lastEventId: 'x' }],
      ['no-token', { traceId: created.traceId }, {}],
      ['forged-token', { traceId: created.traceId, token: 'v1.abc.1.def' }, {}],
      ['other-token', { traceId: created.traceId, token: other.streamToken }, {}],
      ['unknown', { traceId: unknownTraceId, token: ctx.app.services.tokens.issue(unknownTraceId) }, {}],
      [
        'unknown-resume',
        { traceId: unknownTraceId, token: ctx.app.services.tokens.issue(unknownTraceId) },
        { lastEventId: '3' },
      ],
    ];
    const { fast, plain } = await ends.open();
    const done = (frames: string[]) =>
      frames.some((frame) => frame.includes('"error"')) &&
      (frames.some(isStopped) || !frames.some((f) => f.includes('started')));
    for (const [id, input, extra] of cases) {
      for (const socket of [fast, plain]) socket.subscribe(id, input, extra);
      const fastFrames = await fast.framesOf(id, done);
      const plainFrames = await plain.framesOf(id, done);
      // A reset event is made when it is sent: only its time may differ.
      expect(fastFrames.map(withoutResetTime), id).toEqual(plainFrames.map(withoutResetTime));
    }
    // Failed subscriptions gave their slot back: one may run; a second is refused; a repeated id too.
    for (const socket of [fast, plain]) {
      socket.subscribe('live', { traceId: created.traceId, token: created.streamToken });
      await socket.framesOf('live', (frames) => frames.length >= 2);
      socket.subscribe('live', { traceId: created.traceId, token: created.streamToken });
      socket.subscribe('second', { traceId: created.traceId, token: created.streamToken });
    }
    expect(await fast.framesOf('second', (frames) => frames.length > 0)).toEqual(
      await plain.framesOf('second', (frames) => frames.length > 0),
    );
    const duplicate = (frames: string[]) => frames.some((frame) => frame.includes('Duplicate id'));
    expect((await fast.framesOf('live', duplicate)).filter((f) => f.includes('error'))).toEqual(
      (await plain.framesOf('live', duplicate)).filter((f) => f.includes('error')),
    );
    feeding.resolve();
    expect(await fast.untilStopped('live')).toEqual(await plain.untilStopped('live'));
  });
});
