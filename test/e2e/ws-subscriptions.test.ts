/**
 * `petCreation.onUpdate` on the server's own WebSocket, asserted on the
 * text of the frames a raw `ws` client receives: `started`, one data frame
 * per event (its id the event id), `stopped` right after the finished event
 * or an error; resumes, resets, stops, slots and errors. That the protocol
 * server answers as tRPC's own adapter does is test/engine's concern.
 */
import { afterAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';

import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { transformer } from '../../shared/transformer.js';
import { collect, END_AFTER_FINISHED_MS, SETTLES, within } from '../support/async.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy, max } from '../support/pets.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { petCreationOf, storedNow } from '../support/stored.js';
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

/** Raw sockets to the app's WebSocket endpoint, all closed on dispose. */
function sockets(ctx: TestApp): AsyncDisposable & { readonly open: () => Promise<TextSocket> } {
  const opened: TextSocket[] = [];
  return {
    open: async () => {
      const socket = new TextSocket(ctx.wsUrl);
      opened.push(socket);
      await socket.opened();
      return socket;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of opened) socket.close();
    },
  };
}

type Frame = Record<string, unknown>;

/** The frames of one subscription as tRPC's protocol has them: started, one data frame per event, stopped. */
function expectSubscriptionFrames(
  frames: readonly string[],
  id: number | string,
  events: readonly PetCreationEvent[],
  extra: Frame = {},
): void {
  expect(frames.map((frame) => JSON.parse(frame) as Frame)).toEqual([
    { ...extra, id, result: { type: 'started' } },
    ...events.map((event) => ({
      ...extra,
      id,
      result: {
        type: 'data',
        data: transformer.serialize({ id: event.eventId, data: event }),
        id: event.eventId,
      },
    })),
    { ...extra, id, result: { type: 'stopped' } },
  ]);
}

/** The error a frame carries: its tRPC code, message and the data code. */
function errorOf(frame: string | undefined) {
  const { error } = JSON.parse(frame ?? '{}') as {
    error?: Parameters<typeof transformer.deserialize>[0];
  };
  if (error === undefined) return null;
  const shape = transformer.deserialize<{ message: string; data: { code: string; path?: string } }>(error);
  return { code: shape.data.code, message: shape.message, path: shape.data.path };
}

const storage = (ctx: TestApp) => ctx.app.engine.backends.streamStorage;

describe.each(backends)('WebSocket subscriptions resuming ($backend)', ({ env }) => {
  test('resume with lastEventId: started, the events after it, each once, stopped', async () => {
    await using ctx = await startTestApp({ env });
    await using ends = sockets(ctx);
    const created = await ctx.client.pets.create.mutate(max);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    const socket = await ends.open();
    const input = { traceId: created.traceId, token: created.streamToken };
    const after = all[3]?.eventId ?? '';
    socket.subscribe(7, input, { lastEventId: after });
    const frames = await socket.untilStopped(7);
    expect(frames).toHaveLength(all.length - 4 + 2);
    expect(frames[1]).toContain(`"id":"${all[4]?.eventId}"`);
    expectSubscriptionFrames(frames, 7, all.slice(4));
    expectExactlyOnceInOrder(eventsOf(frames), all, { after });
  });

  test('a connection cut mid-workflow, resumed on a new one: together, every event once', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({ env, steps: gatedSteps('FeedingReminder', feeding.promise) });
    await using ends = sockets(ctx);
    const created = await ctx.client.pets.create.mutate(buddy);
    const input = { traceId: created.traceId, token: created.streamToken };
    const before = await ends.open();
    before.subscribe(1, input);
    // Started and the first three events, then the connection is gone.
    const seen = eventsOf(await before.framesOf(1, (frames) => frames.length >= 4));
    before.close();
    const after = await ends.open();
    after.subscribe(1, input, { lastEventId: seen.at(-1)?.eventId });
    feeding.resolve();
    const resumed = await after.untilStopped(1);
    const stored = await collect(petCreationOf(ctx.app.engine).subscribe(created.traceId));
    expectExactlyOnceInOrder([...seen, ...eventsOf(resumed)], stored);
  });
});

describe('WebSocket subscriptions to petCreation.onUpdate', () => {
  test('a finished workflow: started, every event, stopped; a JSON-RPC 2.0 request gets the same frames, marked so', async () => {
    await using ctx = await startTestApp();
    await using ends = sockets(ctx);
    const created = await ctx.client.pets.create.mutate(max);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    const socket = await ends.open();
    const input = { traceId: created.traceId, token: created.streamToken };
    socket.subscribe(1, input);
    socket.subscribe('two', input, { jsonrpc: '2.0' });
    const frames = await socket.untilStopped(1);
    expect(frames).toHaveLength(all.length + 2);
    expect(frames[0]).toBe('{"id":1,"result":{"type":"started"}}');
    expect(frames.at(-1)).toBe('{"id":1,"result":{"type":"stopped"}}');
    expectSubscriptionFrames(frames, 1, all);
    expectSubscriptionFrames(await socket.untilStopped('two'), 'two', all, { jsonrpc: '2.0' });
  });

  test('resume after trimmed history: the reset event first, then what is kept of this stream', async () => {
    await using ctx = await startTestApp({ env: { STREAM_HISTORY_LIMIT: '3' } });
    await using ends = sockets(ctx);
    const created = await ctx.client.pets.create.mutate(max);
    await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    // The limit counts the workflow's log, every stream together: what is kept of `petCreation` is among those three.
    const kept = await storedNow(ctx.app.engine, created.traceId);
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept.length).toBeLessThanOrEqual(3);
    const socket = await ends.open();
    socket.subscribe(1, { traceId: created.traceId, token: created.streamToken }, { lastEventId: '1' });
    const frames = await socket.untilStopped(1);
    expect(frames).toHaveLength(1 + 1 + kept.length + 1);
    expect(frames[1]).toContain('"kind":"reset"');
    const [reset, ...rest] = eventsOf(frames);
    expect(reset).toMatchObject({ kind: 'reset', itemId: 'history', groupId: created.traceId, data: null });
    expect(rest).toEqual(kept);
  });

  test('live events: every subscriber gets the same frames, all from one storage listener', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('FeedingReminder', feeding.promise) });
    await using ends = sockets(ctx);
    const created = await ctx.client.pets.create.mutate(buddy);
    const input = { traceId: created.traceId, token: created.streamToken };
    const subscribers = [await ends.open(), await ends.open(), await ends.open(), await ends.open()];
    const listenersBefore = storage(ctx).listenerCount();
    for (const socket of subscribers) socket.subscribe(1, input);
    await Promise.all(subscribers.map((socket) => socket.framesOf(1, (frames) => frames.length >= 2)));
    // One fan-out: the workflow's subscribers share one storage listener.
    expect(storage(ctx).listenerCount() - listenersBefore).toBe(1);
    const active = [...ctx.app.engine.observability.metrics.streams.streams()].find(
      ([name]) => name === 'petCreation',
    );
    expect(active?.[1].active).toBe(4);

    feeding.resolve();
    const [first, ...others] = subscribers as [TextSocket, ...TextSocket[]];
    const frames = await first.untilStopped(1);
    expectSubscriptionFrames(frames, 1, await storedNow(ctx.app.engine, created.traceId));
    for (const socket of others) expect(await socket.untilStopped(1)).toEqual(frames);
    await expect.poll(() => storage(ctx).listenerCount(), SETTLES).toBe(listenersBefore);
  });

  test('subscription.stop: stopped at once, nothing more for that id, the slot is free again', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({
      steps: gatedSteps('FeedingReminder', feeding.promise),
      env: { MAX_SUBSCRIPTIONS_PER_CONNECTION: '1' },
    });
    await using ends = sockets(ctx);
    const created = await ctx.client.pets.create.mutate(buddy);
    const input = { traceId: created.traceId, token: created.streamToken };
    const socket = await ends.open();
    socket.subscribe(1, input);
    await socket.framesOf(1, (frames) => frames.length >= 2);
    socket.send({ id: 1, method: 'subscription.stop' });
    // How many events came before the stop is a matter of timing: they are a prefix of the stream.
    const stopped = await socket.untilStopped(1);
    expect(stopped.at(-1)).toBe('{"id":1,"result":{"type":"stopped"}}');
    const stored = await storedNow(ctx.app.engine, created.traceId);
    expectSubscriptionFrames(stopped, 1, stored.slice(0, stopped.length - 2));

    // With one slot per connection, a new subscription is admitted only if the stopped one gave its slot back.
    socket.subscribe(2, input);
    await socket.framesOf(2, (frames) => frames.length >= 2);
    feeding.resolve();
    expectSubscriptionFrames(
      await socket.untilStopped(2),
      2,
      await collect(petCreationOf(ctx.app.engine).subscribe(created.traceId)),
    );
    expect(await socket.framesOf(1, () => true)).toEqual(stopped);
  });

  test('errors: bad input, tokens, unknown workflows, duplicate ids and full slots, each with its code', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({
      steps: gatedSteps('FeedingReminder', feeding.promise),
      env: { MAX_SUBSCRIPTIONS_PER_CONNECTION: '1' },
    });
    await using ends = sockets(ctx);
    const created = await ctx.client.pets.create.mutate(buddy);
    const other = await ctx.client.pets.create.mutate(max);
    const unknownTraceId = 'f'.repeat(32);
    const unknownToken = ctx.app.engine.tokens.issue('petCreation', unknownTraceId);
    const cases: [string, unknown, Record<string, unknown>, string][] = [
      ['bad-trace-id', { traceId: 'nope', token: created.streamToken }, {}, 'BAD_REQUEST'],
      ['extra-key', { traceId: created.traceId, token: created.streamToken, extra: 1 }, {}, 'BAD_REQUEST'],
      [
        'bad-last-event-id',
        { traceId: created.traceId, token: created.streamToken },
        { lastEventId: 'x' },
        'BAD_REQUEST',
      ],
      ['no-token', { traceId: created.traceId }, {}, 'UNAUTHORIZED'],
      ['forged-token', { traceId: created.traceId, token: 'v1.abc.1.def' }, {}, 'UNAUTHORIZED'],
      ['other-token', { traceId: created.traceId, token: other.streamToken }, {}, 'FORBIDDEN'],
      ['unknown', { traceId: unknownTraceId, token: unknownToken }, {}, 'NOT_FOUND'],
      ['unknown-resume', { traceId: unknownTraceId, token: unknownToken }, { lastEventId: '3' }, 'NOT_FOUND'],
    ];
    const socket = await ends.open();
    const done = (frames: string[]) =>
      frames.some((frame) => frame.includes('"error"')) &&
      (frames.some(isStopped) || !frames.some((f) => f.includes('started')));
    for (const [id, input, extra, code] of cases) {
      socket.subscribe(id, input, extra);
      const frames = await socket.framesOf(id, done);
      const error = frames.map(errorOf).find((e) => e !== null);
      expect(error, id).toMatchObject({ code, path: PATH });
      // Nothing of the workflow is sent; resuming an unknown one is first told its history is gone.
      const events = eventsOf(frames);
      if (id === 'unknown-resume') {
        expect(events).toEqual([
          expect.objectContaining({ kind: 'reset', eventId: '3', groupId: unknownTraceId, data: null }),
        ]);
      } else {
        expect(events, id).toEqual([]);
      }
    }
    // Failed subscriptions gave their slot back: one may run; a second is refused; a repeated id too.
    socket.subscribe('live', { traceId: created.traceId, token: created.streamToken });
    await socket.framesOf('live', (frames) => frames.length >= 2);
    socket.subscribe('live', { traceId: created.traceId, token: created.streamToken });
    socket.subscribe('second', { traceId: created.traceId, token: created.streamToken });
    const refused = await socket.framesOf('second', (frames) => frames.length > 0);
    expect(refused.map(errorOf)).toMatchObject([{ code: 'TOO_MANY_REQUESTS' }]);
    const duplicate = (frames: string[]) => frames.some((frame) => frame.includes('Duplicate id'));
    expect((await socket.framesOf('live', duplicate)).map(errorOf).filter((e) => e !== null)).toMatchObject([
      { code: 'BAD_REQUEST', message: 'Duplicate id live' },
    ]);
    feeding.resolve();
    const live = await socket.untilStopped('live');
    expectExactlyOnceInOrder(
      eventsOf(live),
      await collect(petCreationOf(ctx.app.engine).subscribe(created.traceId)),
      { label: 'the running subscription' },
    );
  });
});
