/**
 * Calls that are not what the typed client sends: a missing or malformed
 * `input`, a body that is not JSON. Each gets a typed error in its own
 * words, never a library's internal message.
 */
import { describe, expect, test } from 'vitest';

import { transformer } from '../../shared/transformer.js';
import { buddy } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';
import { errorOf, RawSocket } from './support/raw-ws.js';

const MALFORMED =
  'The input is not in the transformer format: send it as `{ "json": <value>, "meta"?: {…} }`';
const INTERNAL =
  /destructure|payload|getReader|ReadableStream|locked|superjson|call stack|TypeError|deserialize|\bat \S+ \(/i;

type ErrorAnswer = {
  readonly error: { readonly json: { readonly message: string; readonly data: { readonly code: string } } };
};

const input = (value: unknown) => encodeURIComponent(JSON.stringify(value));

/** superjson meta that its deserialiser throws on, each with its own internal message. */
const choking = [
  { json: { id: '1' }, meta: { values: { id: 'Date' } } },
  { json: { id: '1' }, meta: { values: { id: [['custom', 'nope']] } } },
  { json: { id: {} }, meta: { values: { id: ['map'] } } },
  { json: 'x', meta: { values: ['regexp'] } },
  { json: '1', meta: { values: [['class', 'Secret']] } },
];

describe('a missing or malformed input', () => {
  test.each([
    ['null input in the URL', 'pets.get?input=null'],
    ['a number as input', 'pets.get?input=1'],
    ['null in a batch', `pets.get?batch=1&input=${input({ 0: null })}`],
    ...choking.map((meta, i) => [`superjson meta it chokes on (${i + 1})`, `pets.get?input=${input(meta)}`]),
  ])('HTTP, %s: BAD_REQUEST saying what the input must be', async (_label, query) => {
    await using ctx = await startTestApp();
    const response = await fetch(`${ctx.url}/trpc/${query}`);
    const text = await response.text();
    expect(response.status).toBe(400);
    const body = JSON.parse(text) as ErrorAnswer | ErrorAnswer[];
    const answer = Array.isArray(body) ? body[0] : body;
    expect(answer?.error.json).toMatchObject({ message: MALFORMED, data: { code: 'BAD_REQUEST' } });
    expect(text).not.toMatch(INTERNAL);
  });

  test('HTTP, a mutation whose body is JSON null: BAD_REQUEST saying what the input must be, nothing stored', async () => {
    await using ctx = await startTestApp();
    const response = await fetch(`${ctx.url}/trpc/pets.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'null',
    });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect((JSON.parse(text) as ErrorAnswer).error.json).toMatchObject({
      message: MALFORMED,
      data: { code: 'BAD_REQUEST' },
    });
    expect(text).not.toMatch(INTERNAL);
    expect((await ctx.client.pets.list.query()).items).toEqual([]);
  });

  test('WebSocket, a call without `input`: an optional input is simply absent, a required one is BAD_REQUEST naming the problem', async () => {
    await using ctx = await startTestApp();
    await ctx.client.pets.create.mutate(buddy);
    const socket = new RawSocket(ctx.wsUrl);
    await socket.opened();
    socket.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'pets.list' } }));
    const listed = await socket.frame((f) => f['id'] === 1 || 'error' in f);
    expect(transformer.deserialize((listed['result'] as { data: never }).data)).toMatchObject({
      items: [{ name: 'Buddy' }],
      nextCursor: null,
    });

    socket.send(JSON.stringify({ id: 2, method: 'query', params: { path: 'pets.get' } }));
    const missing = await socket.frame((f) => f['id'] === 2 || (f['id'] === null && 'error' in f));
    expect(errorOf(missing)).toEqual({
      code: 'BAD_REQUEST',
      message: 'Invalid input: expected object, received undefined',
    });

    for (const [i, bad] of [null, 7, 'text', ...choking].entries()) {
      const seen = socket.frames.length;
      socket.send(JSON.stringify({ id: 10 + i, method: 'query', params: { path: 'pets.get', input: bad } }));
      // The frame as a whole could not be read, so tRPC answers it without an id.
      const frame = await socket.frame((f) => socket.frames.indexOf(f) >= seen && 'error' in f);
      expect(errorOf(frame)).toEqual({ code: 'PARSE_ERROR', message: MALFORMED });
      expect(JSON.stringify(frame)).not.toMatch(INTERNAL);
    }
    socket.call(99, 'query', 'pets.get', { id: '1' });
    expect(await socket.frame((f) => f['id'] === 99)).toHaveProperty('result');
    socket.close();
  });
});

describe('a body that is not JSON', () => {
  test.each([
    ['an application/octet-stream', 'application/octet-stream', Buffer.from([0xde, 0xad, 0xbe, 0xef])],
    [
      'a multipart/form-data',
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nRex\r\n--x--\r\n',
    ],
    ['a text/plain', 'text/plain', JSON.stringify({ json: buddy })],
    ['an undeclared', undefined, JSON.stringify({ json: buddy })],
  ])(
    '%s body to a tRPC mutation is 415 UNSUPPORTED_MEDIA_TYPE, nothing stored',
    async (_label, type, body) => {
      await using ctx = await startTestApp();
      const response = await fetch(`${ctx.url}/trpc/pets.create`, {
        method: 'POST',
        headers: type === undefined ? {} : { 'content-type': type },
        body: typeof body === 'string' ? body : new Uint8Array(body),
      });
      const text = await response.text();
      expect(response.status).toBe(415);
      expect((JSON.parse(text) as ErrorAnswer).error.json).toMatchObject({
        message: 'Send the body as JSON, with Content-Type: application/json',
        data: { code: 'UNSUPPORTED_MEDIA_TYPE' },
      });
      expect(text).not.toMatch(INTERNAL);
      expect((await ctx.client.pets.list.query()).items).toEqual([]);
    },
  );

  test('an octet-stream body to POST /pets is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    await using ctx = await startTestApp();
    const response = await fetch(`${ctx.url}/pets`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toEqual({
      error: {
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'Send the body as JSON, with Content-Type: application/json',
      },
    });
  });
});
