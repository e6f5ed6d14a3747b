import { describe, expect, test } from 'vitest';

import { transformer } from '../../shared/transformer.js';
import { collect } from '../support/async.js';
import { buddy } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { errorOf, RawSocket } from './support/raw-ws.js';
import { clientFrame, RawTcpSocket } from './support/raw-tcp.js';

const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

async function post(ctx: TestApp, path: string, body: string, contentType = 'application/json') {
  const response = await fetch(`${ctx.url}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: JSON.parse(text) as { error?: { json?: Record<string, unknown> } },
  };
}

/** Nothing was stored, and the server still serves a whole workflow. */
async function expectHealthyAndEmpty(ctx: TestApp): Promise<void> {
  expect((await ctx.client.pets.list.query()).items).toEqual([]);
  const created = await ctx.client.pets.create.mutate(buddy);
  expectCompleteWorkflow(
    await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken)),
    buddy,
  );
}

describe('hostile input over HTTP', () => {
  const cases = [
    {
      label: 'non-JSON',
      path: 'pets.create',
      body: 'not json',
      status: 400,
      code: 'BAD_REQUEST',
      message: /JSON/,
    },
    {
      label: 'an unknown procedure',
      path: 'pets.nope',
      body: '{"json":{}}',
      status: 404,
      code: 'NOT_FOUND',
      message: /No procedure found/,
    },
    {
      label: 'a query called as a mutation',
      path: 'pets.list',
      body: '{"json":{}}',
      status: 405,
      code: 'METHOD_NOT_SUPPORTED',
      message: /./,
    },
    {
      label: 'deeply nested JSON',
      path: 'pets.create',
      body: `{"json":${deep(10_000)}}`,
      status: 400,
      code: 'BAD_REQUEST',
      message: /^JSON nested deeper than 64 levels$/,
    },
    {
      label: 'a __proto__ key',
      path: 'pets.create',
      body: '{"json":{"__proto__":{"admin":true},"name":"Rex","species":"dog","ageMonths":3}}',
      status: 400,
      code: 'BAD_REQUEST',
      message: /^The key "__proto__" is not allowed$/,
    },
    {
      label: 'an escaped __proto__ key',
      path: 'pets.create',
      body: '{"json":{"\\u005f_proto__":{"admin":true},"name":"Rex","species":"dog","ageMonths":3}}',
      status: 400,
      code: 'BAD_REQUEST',
      message: /^The key "__proto__" is not allowed$/,
    },
    {
      label: 'a constructor key',
      path: 'pets.create',
      body: '{"json":{"constructor":{"prototype":{"admin":true}},"name":"Rex","species":"dog","ageMonths":3}}',
      status: 400,
      code: 'BAD_REQUEST',
      message: /^The key "constructor" is not allowed$/,
    },
    {
      label: 'an array instead of an object',
      path: 'pets.create',
      body: '{"json":[1,2]}',
      status: 400,
      code: 'BAD_REQUEST',
      message: /^Invalid input: .*expected object/,
    },
    {
      label: 'an unknown field',
      path: 'pets.create',
      body: '{"json":{"name":"Rex","species":"dog","ageMonths":3,"isAdmin":true}}',
      status: 400,
      code: 'BAD_REQUEST',
      message: /^Invalid input: Unrecognized key: "isAdmin"$/,
    },
  ];
  test.each(cases)(
    '$label gets a clear error; nothing is stored',
    async ({ path, body, status, code, message }) => {
      await using ctx = await startTestApp();
      const response = await post(ctx, path, body);
      expect(response.status).toBe(status);
      expect(response.json.error?.json).toMatchObject({ data: { code } });
      expect(String(response.json.error?.json?.['message'])).toMatch(message);
      expect(response.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
      await expectHealthyAndEmpty(ctx);
    },
  );

  test('wrong methods and content types are refused', async () => {
    await using ctx = await startTestApp();
    expect((await fetch(`${ctx.url}/trpc/pets.create`)).status).toBe(405);
    const put = await fetch(`${ctx.url}/trpc/pets.create`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(put.status).toBe(405);
    expect(await put.json()).toMatchObject({
      error: {
        json: {
          message: 'PUT is not supported here: use GET or POST',
          data: { code: 'METHOD_NOT_SUPPORTED' },
        },
      },
    });
    const patch = await fetch(`${ctx.url}/trpc/petCreation.onUpdate`, { method: 'PATCH' });
    expect(patch.status).toBe(405);
    expect((await post(ctx, 'pets.create', JSON.stringify({ json: buddy }), 'text/plain')).status).toBe(415);
    expect((await fetch(`${ctx.url}/healthz`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${ctx.url}/../../etc/passwd`)).status).toBe(404);
    await expectHealthyAndEmpty(ctx);
  });

  test.each([
    ['a control character', 'Re\u0007x', 'must not contain control characters'],
    ['a C1 control character', 'Re\u0085x', 'must not contain control characters'],
    ['a line separator', 'Re\u2028x', 'must not contain control characters'],
    ['a right-to-left override', 'Rex\u202Egod', 'must not contain invisible or text-direction characters'],
    ['a zero-width space', 'R\u200Bex', 'must not contain invisible or text-direction characters'],
    ['a byte-order mark', 'R\uFEFFex', 'must not contain invisible or text-direction characters'],
    ['an unpaired surrogate', 'Rex\uD800', 'must be well-formed Unicode'],
    ['only spaces', '   ', 'must not be empty'],
  ])('a name with %s is refused, naming the field', async (_label, name, reason) => {
    await using ctx = await startTestApp();
    const response = await post(ctx, 'pets.create', JSON.stringify({ json: { ...buddy, name } }));
    expect(response.status).toBe(400);
    expect(response.json.error?.json).toMatchObject({
      message: `Invalid input: name: ${reason}`,
      data: { code: 'BAD_REQUEST', fieldErrors: { name: [reason] } },
    });
    await expectHealthyAndEmpty(ctx);
  });

  test('names are stored NFC-normalised; emoji sequences with joiners are kept', async () => {
    await using ctx = await startTestApp();
    const decomposed = await ctx.client.pets.create.mutate({ ...buddy, name: 'Jose\u0301' });
    expect(decomposed.pet.name).toBe('Jos\u00e9');
    const emoji = await ctx.client.pets.create.mutate({ ...buddy, name: 'Doc 👩‍⚕️' });
    expect(emoji.pet.name).toBe('Doc 👩‍⚕️');
  });
});

describe('hostile input over WebSocket', () => {
  test('bad frames get an error each; the same connection then serves a real subscription', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(buddy);
    const socket = new RawSocket(ctx.wsUrl);
    await socket.opened();
    const errorFor = async (id: number | null, after: number) => {
      const frame = await socket.frame(
        (f) => f['id'] === id && socket.frames.indexOf(f) >= after && 'error' in f,
      );
      return errorOf(frame);
    };

    let seen = socket.frames.length;
    socket.send('not json');
    expect(await errorFor(null, seen)).toMatchObject({ code: 'PARSE_ERROR' });

    seen = socket.frames.length;
    socket.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect(await errorFor(null, seen)).toEqual({
      code: 'PARSE_ERROR',
      message: 'Binary frames are not accepted: send JSON in text frames',
    });

    seen = socket.frames.length;
    socket.send(`{"id":1,"method":"query","params":{"path":"pets.list","input":${deep(1000)}}}`);
    expect(await errorFor(null, seen)).toEqual({
      code: 'PARSE_ERROR',
      message: 'JSON nested deeper than 64 levels',
    });

    seen = socket.frames.length;
    socket.send(
      '{"id":2,"method":"mutation","params":{"path":"pets.create","input":{"json":{"__proto__":{"x":1}}}}}',
    );
    expect(await errorFor(null, seen)).toEqual({
      code: 'PARSE_ERROR',
      message: 'The key "__proto__" is not allowed',
    });

    seen = socket.frames.length;
    socket.send('{"id":3,"method":"teleport","params":{"path":"pets.list"}}');
    expect(await errorFor(null, seen)).toEqual({ code: 'PARSE_ERROR', message: 'Invalid procedure type' });
    socket.call(5, 'query', 'pets.nope', {});
    expect(await errorFor(5, 0)).toMatchObject({ code: 'NOT_FOUND' });
    socket.call(6, 'subscription', 'pets.list', {});
    expect(await errorFor(6, 0)).toEqual({
      code: 'NOT_FOUND',
      message: 'No "subscription"-procedure on path "pets.list"',
    });
    socket.call(7, 'mutation', 'pets.create', { ...buddy, name: 'Bad\u202Ename' });
    expect(await errorFor(7, 0)).toMatchObject({ code: 'BAD_REQUEST' });

    socket.call(8, 'subscription', 'petCreation.onUpdate', {
      traceId: created.traceId,
      token: created.streamToken,
    });
    const finished = await socket.frame(
      (f) => f['id'] === 8 && JSON.stringify(f).includes('"kind":"finished"'),
    );
    expect(finished).toBeDefined();
    const events = socket.frames.filter((f) => f['id'] === 8 && JSON.stringify(f).includes('"kind"'));
    expect(events).toHaveLength(11);
    expect((await ctx.client.pets.list.query()).items).toHaveLength(1);
    socket.close();
  });

  test.each([
    ['an unmasked frame', clientFrame({ opcode: 0x1, payload: Buffer.from('{}'), mask: false }), 1002],
    ['reserved bits set', clientFrame({ opcode: 0x1, payload: Buffer.from('{}'), rsv: 0x7 }), 1002],
    ['an unknown opcode', clientFrame({ opcode: 0x3, payload: Buffer.from('{}') }), 1002],
    ['invalid UTF-8 in a text frame', clientFrame({ opcode: 0x1, payload: Buffer.from([0xc3, 0x28]) }), 1007],
    ['a fragmented control frame', clientFrame({ opcode: 0x9, payload: Buffer.from('x'), fin: false }), 1002],
    [
      'a frame claiming 2^53 bytes',
      clientFrame({ opcode: 0x1, payload: Buffer.alloc(0), claimedLength: 2 ** 53 }),
      1009,
    ],
  ])('%s closes that connection alone', async (_label, bytes, code) => {
    await using ctx = await startTestApp();
    const port = Number(new URL(ctx.url).port);
    const bystander = new RawSocket(ctx.wsUrl);
    await bystander.opened();
    const raw = await RawTcpSocket.open(port);
    raw.write(bytes);
    expect(RawTcpSocket.closeCode(await raw.ended)).toBe(code);

    bystander.call(1, 'query', 'pets.list', {});
    expect(await bystander.frame((f) => f['id'] === 1)).toHaveProperty('result');
    bystander.close();
    await expectHealthyAndEmpty(ctx);
  });

  test('an input the transformer refuses fails that frame alone', async () => {
    await using ctx = await startTestApp();
    const socket = new RawSocket(ctx.wsUrl);
    await socket.opened();
    const input = transformer.serialize(buddy);
    socket.send(
      JSON.stringify({
        id: 1,
        method: 'mutation',
        params: {
          path: 'pets.create',
          input: { ...input, meta: { values: { name: [['custom', 'nope']] } } },
        },
      }),
    );
    expect(errorOf(await socket.frame((f) => 'error' in f))).toEqual({
      code: 'PARSE_ERROR',
      message: 'The input is not in the transformer format: send it as `{ "json": <value>, "meta"?: {…} }`',
    });
    socket.call(2, 'query', 'pets.list', {});
    expect(await socket.frame((f) => f['id'] === 2)).toHaveProperty('result');
    socket.close();
    await expectHealthyAndEmpty(ctx);
  });
});
