/**
 * Stream tokens are scoped to one workflow and one kind. Every token
 * (a pet creation token of workflow A, an adoption token of workflow B, a
 * pet creation token of workflow C, a forged one, an expired one, none) on
 * every watching procedure and route, on its own trace id and on another:
 * it opens exactly when it is genuine, current, for that workflow, and
 * for that kind (or any kind, where the route takes any). Otherwise the
 * answer is the error at once, on every transport, with nothing delivered:
 * FORBIDDEN (403) for another workflow's or another kind's token,
 * UNAUTHORIZED (401) for a missing, forged or expired one.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';

import { StreamTokens } from '../../server/engine/security/stream-tokens.js';
import type { StreamEvent } from '../../shared/stream-event.js';
import { transformer } from '../../shared/transformer.js';
import { within } from '../support/async.js';
import { expectExactlyOnceInOrder } from '../support/exactly-once.js';
import { buddy } from '../support/pets.js';
import { openRawWatch, parseBlock, type WatchRequest } from '../support/raw-watch.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const SECRET = 'test-secret-that-is-at-least-32-characters-long';
/** How soon a refusal must come: a subscription left open with nothing in it fails here. */
const AT_ONCE_MS = 5000;

type Event = StreamEvent<unknown>;
type Expected = 'OPEN' | 'FORBIDDEN' | 'UNAUTHORIZED';
type Kind = 'petCreation' | 'adoption';

/** What a watch or read came to: opened with these events, or refused with this code (and HTTP status). */
type Outcome =
  | { readonly kind: 'open'; readonly events: readonly Event[] }
  | { readonly kind: 'refused'; readonly code: string; readonly status: number };

type Target = {
  readonly name: string;
  /** Only a token of this kind opens it; any kind when null. */
  readonly kind: Kind | null;
  /** The streams it delivers (all when null). */
  readonly streams: readonly string[] | null;
  readonly open: (ctx: TestApp, traceId: string, token: string | undefined) => Promise<Outcome>;
};

/** A tRPC subscription as the server sends it, over its WebSocket or tRPC's SSE. */
function trpcWatch(procedure: string, transport: 'ws' | 'trpc-sse'): Target['open'] {
  return async (ctx, traceId, token) => {
    const request: WatchRequest = { traceId, token: token ?? '', procedure };
    const watch = await openRawWatch(ctx.url, transport, request);
    const { end, events, raw } = await within(
      watch.ended,
      AT_ONCE_MS,
      `${procedure} over ${transport} to end`,
    );
    watch.close();
    if (end.kind === 'completed') return { kind: 'open', events };
    if (end.kind !== 'error') throw new Error(`unexpected end ${end.kind}`);
    // Refused: nothing was delivered before the error.
    expect(events, `${procedure} over ${transport}: events before the refusal`).toEqual([]);
    expect(raw.some((text) => text.includes('"type":"data"'))).toBe(false);
    // A token is checked before the subscription opens: on WebSocket the refusal is the first frame.
    if (transport === 'ws') expect(raw.some((text) => text.includes('"type":"started"'))).toBe(false);
    const status = /"httpStatus":(\d+)/.exec(raw.join('\n'))?.[1];
    return { kind: 'refused', code: end.code, status: Number(status) };
  };
}

/** A plain SSE route: its status, and the events of its body (which ends after the finished event). */
function plainSse(path: (traceId: string) => string): Target['open'] {
  return async (ctx, traceId, token) => {
    const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
    const response = await within(fetch(`${ctx.url}${path(traceId)}${query}`), AT_ONCE_MS, 'the SSE answer');
    const text = await within(response.text(), AT_ONCE_MS, 'the SSE body to end');
    if (response.status !== 200) {
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const { error } = JSON.parse(text) as { error: { code: string } };
      return { kind: 'refused', code: error.code, status: response.status };
    }
    const events = text
      .split('\n\n')
      .map(parseBlock)
      .flatMap((block) => (block.data === undefined ? [] : [JSON.parse(block.data) as Event]));
    return { kind: 'open', events };
  };
}

/** `traces.get` over HTTP. */
const traceOverHttp: Target['open'] = async (ctx, traceId, token) => {
  const input = encodeURIComponent(JSON.stringify(transformer.serialize({ traceId, token })));
  const response = await fetch(`${ctx.url}/trpc/traces.get?input=${input}`);
  const body = (await response.json()) as { error?: { json: { data: { code: string } } } };
  if (!body.error) return { kind: 'open', events: [] };
  return { kind: 'refused', code: body.error.json.data.code, status: response.status };
};

/** `traces.get` as one query frame on the server's WebSocket. */
const traceOverWs: Target['open'] = async (ctx, traceId, token) => {
  const socket = new WebSocket(ctx.wsUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const reply = new Promise<string>((resolve) =>
      socket.once('message', (data: Buffer) => resolve(data.toString())),
    );
    socket.send(
      JSON.stringify({
        id: 1,
        method: 'query',
        params: { path: 'traces.get', input: transformer.serialize({ traceId, token }) },
      }),
    );
    const frame = JSON.parse(await within(reply, AT_ONCE_MS, 'the traces.get reply')) as {
      error?: Parameters<typeof transformer.deserialize>[0];
      result?: { type: string };
    };
    if (!frame.error) {
      expect(frame.result?.type).toBe('data');
      return { kind: 'open', events: [] };
    }
    const error = transformer.deserialize<{ data: { code: string; httpStatus: number } }>(frame.error);
    return { kind: 'refused', code: error.data.code, status: error.data.httpStatus };
  } finally {
    socket.terminate();
  }
};

const TARGETS: readonly Target[] = [
  {
    name: 'petCreation.onUpdate (WebSocket)',
    kind: 'petCreation',
    streams: ['petCreation'],
    open: trpcWatch('petCreation.onUpdate', 'ws'),
  },
  {
    name: 'petCreation.onUpdate (tRPC SSE)',
    kind: 'petCreation',
    streams: ['petCreation'],
    open: trpcWatch('petCreation.onUpdate', 'trpc-sse'),
  },
  {
    name: 'adoptions.onUpdate (WebSocket)',
    kind: 'adoption',
    streams: null,
    open: trpcWatch('adoptions.onUpdate', 'ws'),
  },
  {
    name: 'adoptions.onUpdate (tRPC SSE)',
    kind: 'adoption',
    streams: null,
    open: trpcWatch('adoptions.onUpdate', 'trpc-sse'),
  },
  {
    name: 'workflows.onUpdate (WebSocket)',
    kind: null,
    streams: null,
    open: trpcWatch('workflows.onUpdate', 'ws'),
  },
  {
    name: 'workflows.onUpdate (tRPC SSE)',
    kind: null,
    streams: null,
    open: trpcWatch('workflows.onUpdate', 'trpc-sse'),
  },
  { name: 'traces.get (HTTP)', kind: null, streams: null, open: traceOverHttp },
  { name: 'traces.get (WebSocket)', kind: null, streams: null, open: traceOverWs },
  {
    name: '/pets/streams/<id>',
    kind: 'petCreation',
    streams: ['petCreation'],
    open: plainSse((id) => `/pets/streams/${id}`),
  },
  {
    name: '/adoptions/streams/<id>',
    kind: 'adoption',
    streams: null,
    open: plainSse((id) => `/adoptions/streams/${id}`),
  },
  {
    name: '/workflows/<id>/events',
    kind: null,
    streams: null,
    open: plainSse((id) => `/workflows/${id}/events`),
  },
];

type Workflow = { readonly traceId: string; readonly token: string; readonly kind: Kind };
type World = { readonly ctx: TestApp; readonly a: Workflow; readonly b: Workflow; readonly c: Workflow };

let world: World | null = null;
const the = (): World => {
  if (!world) throw new Error('the server is not up');
  return world;
};

beforeAll(async () => {
  const ctx = await startTestApp();
  // A: a pet creation; B: the adoption of A's pet; C: another pet creation. All finished.
  const petA = await ctx.client.pets.create.mutate(buddy);
  await ctx.app.engine.workflows.onFinished(petA.traceId);
  const adoption = await ctx.client.trpc.adoptions.submit.mutate({
    petId: petA.pet.id,
    applicant: { name: 'Ann', email: 'ann@example.org' },
    home: { type: 'house', hasGarden: true, otherPets: false },
  });
  const petC = await ctx.client.pets.create.mutate({ name: 'Milo', species: 'cat', ageMonths: 30 });
  await Promise.all([adoption.traceId, petC.traceId].map((id) => ctx.app.engine.workflows.onFinished(id)));
  world = {
    ctx,
    a: { traceId: petA.traceId, token: petA.streamToken, kind: 'petCreation' },
    b: { traceId: adoption.traceId, token: adoption.streamToken, kind: 'adoption' },
    c: { traceId: petC.traceId, token: petC.streamToken, kind: 'petCreation' },
  };
});

afterAll(async () => {
  await world?.ctx[Symbol.asyncDispose]();
});

type TokenCase = {
  readonly name: string;
  /** The token, and the trace id it was made for ("its own"). */
  readonly make: (w: World) => {
    readonly token: string | undefined;
    readonly own: Workflow;
    readonly other: Workflow;
  };
  /** Genuine and current: it opens its own workflow where its kind is taken. */
  readonly valid: boolean;
};

const TOKENS: readonly TokenCase[] = [
  {
    name: 'pet creation token of workflow A',
    valid: true,
    make: (w) => ({ token: w.a.token, own: w.a, other: w.b }),
  },
  {
    name: 'adoption token of workflow B',
    valid: true,
    make: (w) => ({ token: w.b.token, own: w.b, other: w.a }),
  },
  {
    name: 'pet creation token of workflow C',
    valid: true,
    make: (w) => ({ token: w.c.token, own: w.c, other: w.a }),
  },
  {
    name: 'forged adoption token of workflow B',
    valid: false,
    make: (w) => ({
      token: new StreamTokens({ secret: 'another-secret-another-secret-1234', ttlSeconds: 3600 }).issue(
        'adoption',
        w.b.traceId,
      ),
      own: w.b,
      other: w.a,
    }),
  },
  {
    name: 'expired pet creation token of workflow A',
    valid: false,
    make: (w) => ({
      token: new StreamTokens({ secret: SECRET, ttlSeconds: 60, now: () => Date.now() - 3_600_000 }).issue(
        'petCreation',
        w.a.traceId,
      ),
      own: w.a,
      other: w.b,
    }),
  },
  { name: 'no token', valid: false, make: (w) => ({ token: undefined, own: w.a, other: w.b }) },
];

const STATUS: Readonly<Record<Exclude<Expected, 'OPEN'>, number>> = { FORBIDDEN: 403, UNAUTHORIZED: 401 };

async function expectOutcome(
  target: Target,
  workflow: Workflow,
  token: string | undefined,
  expected: Expected,
) {
  const { ctx } = the();
  const outcome = await target.open(ctx, workflow.traceId, token);
  if (expected !== 'OPEN') {
    expect(outcome).toEqual({ kind: 'refused', code: expected, status: STATUS[expected] });
    return;
  }
  expect(outcome.kind).toBe('open');
  if (outcome.kind !== 'open' || target.name.startsWith('traces.get')) return;
  // Opened: the workflow's whole log (of the streams the target delivers), each event once, in order.
  const { events } = await ctx.app.engine.backends.streamStorage.readAfter(workflow.traceId, null);
  const streams = target.streams;
  expectExactlyOnceInOrder(
    outcome.events,
    events.filter((event) => streams === null || streams.includes(event.stream)),
    { label: target.name },
  );
  expect(outcome.events.at(-1)?.kind).toBe('finished');
}

describe.each(TOKENS)('$name', ({ make, valid }) => {
  test.each(TARGETS)('on $name', async (target) => {
    const { token, own, other } = make(the());
    // Its own workflow: opens where its kind is taken, else FORBIDDEN; a bad token is UNAUTHORIZED.
    const onOwn: Expected = !valid
      ? 'UNAUTHORIZED'
      : target.kind === null || target.kind === own.kind
        ? 'OPEN'
        : 'FORBIDDEN';
    await expectOutcome(target, own, token, onOwn);
    // Another workflow's trace id: never opens.
    await expectOutcome(target, other, token, valid ? 'FORBIDDEN' : 'UNAUTHORIZED');
  });
});

test('the refusals say why', async () => {
  const { ctx, a, b } = the();
  const watch = async (procedure: string, traceId: string, token: string) =>
    (await (await openRawWatch(ctx.url, 'ws', { traceId, token, procedure })).ended).end;
  expect(await watch('adoptions.onUpdate', a.traceId, a.token)).toEqual({
    kind: 'error',
    code: 'FORBIDDEN',
    message: 'The stream token is for another kind of workflow',
  });
  expect(await watch('petCreation.onUpdate', b.traceId, b.token)).toEqual({
    kind: 'error',
    code: 'FORBIDDEN',
    message: 'The stream token is for another kind of workflow',
  });
  expect(await watch('workflows.onUpdate', b.traceId, a.token)).toEqual({
    kind: 'error',
    code: 'FORBIDDEN',
    message: 'The stream token belongs to another workflow',
  });
  const response = await fetch(
    `${ctx.url}/adoptions/streams/${a.traceId}?token=${encodeURIComponent(a.token)}`,
  );
  expect(response.status).toBe(403);
  expect(await response.json()).toEqual({
    error: { code: 'FORBIDDEN', message: 'The stream token is for another kind of workflow' },
  });
});
