import http from 'node:http';

import { describe, expect, test, vi } from 'vitest';

import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { transformer } from '../../shared/transformer.js';
import { collect, END_AFTER_FINISHED_MS, SETTLES, within } from '../support/async.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy, luna, max } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { petCreationOf } from '../support/stored.js';

/** One Server-Sent Events block: its fields, and its comment lines. */
type Frame = {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  readonly comments: string[];
};

type SseResponse = {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The frames as they arrive; ends with the response. */
  readonly frames: AsyncIterable<Frame>;
  readonly body: () => Promise<string>;
  /** Goes away as a client would. */
  readonly destroy: () => void;
};

/** A raw HTTP GET, as curl or a browser's EventSource makes it. */
function get(url: string, headers: Record<string, string> = {}): Promise<SseResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      res.setEncoding('utf8');
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        frames: parseFrames(res),
        body: async () => {
          let text = '';
          for await (const chunk of res) text += String(chunk);
          return text;
        },
        destroy: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

async function* parseFrames(res: http.IncomingMessage): AsyncGenerator<Frame> {
  let buffer = '';
  for await (const chunk of res) {
    buffer += String(chunk);
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const frame: { id?: string; event?: string; data?: string; comments: string[] } = { comments: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comments.push(line.slice(1).trim());
        else if (line.startsWith('id: ')) frame.id = line.slice(4);
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: '))
          frame.data = (frame.data === undefined ? '' : `${frame.data}\n`) + line.slice(6);
      }
      yield frame;
    }
  }
}

/** The finished event: plain SSE names its kind; tRPC's SSE carries it in the data. */
const isFinished = (frame: Frame) =>
  frame.event === 'finished' || (frame.data?.includes('"kind":"finished"') ?? false);

/**
 * Every frame until the response ends; once the finished event has come,
 * the end must follow at once (a server that keeps the stream open fails
 * here, not at the test's timeout).
 */
async function untilEnd(frames: AsyncIterable<Frame>, onFrame: (frame: Frame) => void = () => {}) {
  const all: Frame[] = [];
  const iterator = frames[Symbol.asyncIterator]();
  let deadline: number | null = null;
  for (;;) {
    const next =
      deadline === null
        ? await iterator.next()
        : await within(
            iterator.next(),
            Math.max(0, deadline - Date.now()),
            'the end of the response after its finished event',
          );
    if (next.done) return all;
    all.push(next.value);
    onFrame(next.value);
    if (deadline === null && isFinished(next.value)) deadline = Date.now() + END_AFTER_FINISHED_MS;
  }
}

const streamUrl = (ctx: TestApp, traceId: string, token: string) =>
  `${ctx.url}/pets/streams/${traceId}?token=${encodeURIComponent(token)}`;

const serverLog = (ctx: TestApp, traceId: string) =>
  collect(petCreationOf(ctx.app.engine).subscribe(traceId));

const eventsOf = (frames: readonly Frame[]) =>
  frames.filter((f) => f.data !== undefined).map((f) => JSON.parse(f.data ?? '') as PetCreationEvent);

describe('GET /pets/streams/:traceId (plain SSE)', () => {
  test('streams the whole workflow: id, event and data lines, and ends after the finished event', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(luna);
    const res = await get(streamUrl(ctx, created.traceId, created.streamToken));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache, no-transform');

    const frames = await untilEnd(res.frames);
    const events = eventsOf(frames);
    expectCompleteWorkflow(events, luna);
    expect(events).toEqual(await serverLog(ctx, created.traceId));
    expect(frames.map((f) => f.id)).toEqual(events.map((e) => e.eventId));
    expect(frames.map((f) => f.event)).toEqual(events.map((e) => e.kind));
    expect(frames.at(-1)?.event).toBe('finished');
  });

  test('Last-Event-ID (header or query) resumes with exactly the events after it', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(max);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));

    // Ids are per workflow across its streams: this stream's own ids have gaps, so resume from ids it sent.
    const byHeader = await get(streamUrl(ctx, created.traceId, created.streamToken), {
      'Last-Event-ID': all[3]?.eventId ?? '',
    });
    expect(eventsOf(await untilEnd(byHeader.frames))).toEqual(all.slice(4));
    const byQuery = await get(
      `${streamUrl(ctx, created.traceId, created.streamToken)}&lastEventId=${all[8]?.eventId ?? ''}`,
    );
    expect(eventsOf(await untilEnd(byQuery.frames))).toEqual(all.slice(9));
  });

  test('a client cut off mid-workflow resumes with Last-Event-ID: together, every event once', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('FeedingReminder', feeding.promise) });
    const created = await ctx.client.pets.create.mutate(buddy);
    const url = streamUrl(ctx, created.traceId, created.streamToken);

    const first = await get(url);
    const before: Frame[] = [];
    for await (const frame of first.frames) {
      before.push(frame);
      if (before.length === 3) break;
    }
    first.destroy();
    feeding.resolve();
    const resumed = await get(url, { 'Last-Event-ID': before.at(-1)?.id ?? '' });
    const after = await untilEnd(resumed.frames);

    const events = eventsOf([...before, ...after]);
    expectCompleteWorkflow(events, buddy);
    expectExactlyOnceInOrder(events, await serverLog(ctx, created.traceId));
  });

  test('resuming from the finished event answers 204, so EventSource clients stop reconnecting', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(buddy);
    const all = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));
    const res = await get(streamUrl(ctx, created.traceId, created.streamToken), {
      'Last-Event-ID': all.at(-1)?.eventId ?? '',
    });
    expect(res.status).toBe(204);
    expect(await res.body()).toBe('');
  });

  test('token and trace id problems: 401, 403, 404 and 400, as the tRPC subscription answers', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(buddy);
    const other = await ctx.client.pets.create.mutate(luna);
    const unknown = '0123456789abcdef0123456789abcdef';
    const cases = [
      [`${ctx.url}/pets/streams/${created.traceId}`, 401, 'UNAUTHORIZED', 'A stream token is required'],
      [streamUrl(ctx, created.traceId, 'forged'), 401, 'UNAUTHORIZED', 'The stream token is malformed'],
      [
        streamUrl(ctx, created.traceId, other.streamToken),
        403,
        'FORBIDDEN',
        'The stream token belongs to another workflow',
      ],
      [
        streamUrl(ctx, unknown, ctx.app.engine.tokens.issue('petCreation', unknown)),
        404,
        'NOT_FOUND',
        undefined,
      ],
      [streamUrl(ctx, 'not-a-trace', created.streamToken), 400, 'BAD_REQUEST', undefined],
    ] as const;
    for (const [url, status, code, message] of cases) {
      const res = await get(url);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(await res.body()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      if (message) expect(body.error.message).toBe(message);
    }
    const badResume = await get(streamUrl(ctx, created.traceId, created.streamToken), {
      'Last-Event-ID': 'yesterday',
    });
    expect(badResume.status).toBe(400);
    expect(JSON.parse(await badResume.body())).toMatchObject({
      error: { fieldErrors: { lastEventId: [expect.any(String)] } },
    });
  });

  test('heartbeat comments keep a quiet stream open', async () => {
    const feeding = createDeferred<void>();
    await using ctx = await startTestApp({
      env: { SSE_HEARTBEAT_MS: '10' },
      steps: gatedSteps('FeedingReminder', feeding.promise),
    });
    const created = await ctx.client.pets.create.mutate(buddy);
    const res = await get(streamUrl(ctx, created.traceId, created.streamToken));
    const frames = await untilEnd(res.frames, (frame) => {
      // The workflow waits for the feeding step: only heartbeats come now.
      if (frame.comments.includes('heartbeat')) feeding.resolve();
    });
    expect(frames.some((f) => f.comments.includes('heartbeat') && f.data === undefined)).toBe(true);
    expectCompleteWorkflow(eventsOf(frames), buddy);
  });

  test('a client that goes away releases its subscription', async () => {
    const never = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('FeedingReminder', never.promise) });
    const storage = ctx.app.engine.backends.streamStorage;
    const created = await ctx.client.pets.create.mutate(buddy);
    const baseline = storage.listenerCount();
    const res = await get(streamUrl(ctx, created.traceId, created.streamToken));
    for await (const frame of res.frames) if (frame.id === '1') break;
    expect(storage.listenerCount()).toBe(baseline + 1);
    res.destroy();
    await vi.waitFor(() => expect(storage.listenerCount()).toBe(baseline), SETTLES);
    never.resolve();
  });
});

describe('GET /trpc/petCreation.onUpdate (the tRPC subscription, as curl sees it)', () => {
  test('streams live events as SSE with superjson-encoded input in the query', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(max);
    const input = JSON.stringify(
      transformer.serialize({ traceId: created.traceId, token: created.streamToken }),
    );
    const res = await get(`${ctx.url}/trpc/petCreation.onUpdate?input=${encodeURIComponent(input)}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');

    const frames = await untilEnd(res.frames);
    expect(frames[0]?.event).toBe('connected');
    expect(frames.at(-1)?.event).toBe('return');
    const data = frames.filter((f) => f.event === undefined && f.data !== undefined);
    const events = data.map((f) => (JSON.parse(f.data ?? '') as { json: PetCreationEvent }).json);
    expectCompleteWorkflow(events, max);
    expect(data.map((f) => f.id)).toEqual(events.map((e) => e.eventId));
    expect(input).toBe(`{"json":{"traceId":"${created.traceId}","token":"${created.streamToken}"}}`);
  });
});
