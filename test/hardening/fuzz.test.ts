import http from 'node:http';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';

import { describe, expect, test, vi } from 'vitest';

import { PetInputSchema } from '../../shared/pet.js';
import { transformer } from '../../shared/transformer.js';
import { collect } from '../support/async.js';
import { allPages } from '../support/pet-pages.js';
import { buddy, luna, max } from '../support/pets.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createPrng, type Prng } from './support/prng.js';
import { clientFrame, RawTcpSocket } from './support/raw-tcp.js';
import { RawSocket } from './support/raw-ws.js';

const LIMIT = 65_536;
const HTTP_REQUESTS = 1000;
const WS_CONNECTIONS = 20;
const WS_FRAMES = 2000;
const RAW_CONNECTIONS = 150;

/** A stack trace or a source path in a response would leak internals. */
const LEAK = /\n\s+at |\.(?:ts|js):\d+|node_modules|\/srv\/|\/work\//;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapUsedAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const ODD_TEXT = [
  '',
  ' ',
  'Rex',
  'Jose\u0301',
  'R\u202Eex',
  'R\u200Bex',
  'R\u0000ex',
  '\uD800',
  '👩‍⚕️',
  'x'.repeat(101),
  '<script>alert(1)</script>',
  "'; DROP TABLE pets; --",
  '__proto__',
  '%00%ff',
  '\u2028',
];

function randomText(prng: Prng): string {
  if (prng.chance(0.6)) return prng.pick(ODD_TEXT);
  const length = prng.int(40);
  let text = '';
  for (let i = 0; i < length; i += 1)
    text += String.fromCharCode(prng.chance(0.8) ? 32 + prng.int(95) : prng.int(0xffff));
  return text;
}

/** Percent-encoding that also passes lone surrogates, as malformed UTF-8. */
function percentEncode(text: string): string {
  let encoded = '';
  for (const char of text) {
    try {
      encoded += encodeURIComponent(char);
    } catch {
      encoded += '%ED%A0%80';
    }
  }
  return encoded;
}

function randomValue(prng: Prng, depth = 0): unknown {
  switch (prng.int(depth > 3 ? 5 : 8)) {
    case 0:
      return randomText(prng);
    case 1:
      return prng.pick([0, -1, 1.5, 1e308, -0, 600, 601, 24]);
    case 2:
      return prng.pick([true, false, null]);
    case 3:
      return prng.pick(['dog', 'cat', 'bird', 'other', 'dragon']);
    case 4:
      return [];
    case 5:
      return Array.from({ length: prng.int(4) }, () => randomValue(prng, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: prng.int(4) }, () => [
          prng.pick([
            'name',
            'species',
            'ageMonths',
            'symptoms',
            'weightKg',
            'id',
            'limit',
            'traceId',
            'token',
            'x',
          ]),
          randomValue(prng, depth + 1),
        ]),
      );
  }
}

/** A pet input: valid, or one mutation away from valid. */
function randomPet(prng: Prng): unknown {
  const pet: Record<string, unknown> = { ...prng.pick([max, luna, buddy]) };
  if (prng.chance(0.15)) return pet;
  const field = prng.pick(['name', 'species', 'ageMonths', 'weightKg', 'symptoms', 'extra']);
  if (prng.chance(0.2)) delete pet[field];
  else pet[field] = randomValue(prng);
  return pet;
}

function nested(prng: Prng): string {
  const depth = prng.pick([10, 64, 65, 1000, 20_000]);
  return prng.chance(0.5)
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function randomJson(prng: Prng): string {
  switch (prng.int(8)) {
    case 0:
      return nested(prng);
    case 1:
      return `{"json":{"${prng.pick(['__proto__', 'constructor', 'prototype', '\\u005f_proto__'])}":{"polluted":true},"name":"Rex","species":"dog","ageMonths":1}}`;
    case 2:
      return prng.pick(['', 'null', '[]', '{', '{"json":', 'not json', '\u0000', '{"json":1e999}']);
    case 3:
      return JSON.stringify({ json: 'x'.repeat(LIMIT + prng.int(LIMIT)) });
    default:
      return JSON.stringify(prng.chance(0.8) ? transformer.serialize(randomPet(prng)) : randomValue(prng));
  }
}

type HttpResult = { readonly status: number; readonly body: string; readonly stored: boolean };

function request(port: number, agent: http.Agent, prng: Prng): Promise<HttpResult> {
  const method = prng.pick(['GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
  const path = prng.pick([
    '/trpc/pets.create',
    '/trpc/pets.create',
    '/trpc/pets.list',
    '/trpc/pets.get',
    '/trpc/pets.create,pets.list?batch=1',
    '/trpc/petCreation.onUpdate',
    '/trpc/nope.nope',
    '/trpc/',
    '/healthz',
    '/pets',
    '/pets/1',
    `/pets/${percentEncode(randomText(prng))}`,
    `/pets/streams/${'0'.repeat(32)}?token=x`,
    '/../../etc/passwd',
    `/${'a'.repeat(4000)}`,
  ]);
  const input = prng.chance(0.3)
    ? `${path.includes('?') ? '&' : '?'}input=${percentEncode(randomJson(prng))}`
    : '';
  const body = method === 'GET' || method === 'HEAD' ? undefined : randomJson(prng);
  const contentType = prng.pick([
    'application/json',
    'application/json',
    'text/plain',
    'multipart/form-data',
    undefined,
  ]);
  const url = `${path}${input}`.slice(0, 12_000);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: url,
        agent,
        headers: { ...(contentType ? { 'content-type': contentType } : {}), accept: 'application/json' },
        signal: AbortSignal.timeout(10_000),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          // Only a successful pets.create (tRPC or REST) answers with a stream token.
          resolve({ status: res.statusCode ?? 0, body: text, stored: text.includes('"streamToken"') });
        });
        res.on('error', reject);
      },
    );
    // A refused upload may be cut short by the server: that is an answer too.
    req.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNRESET' || error.code === 'EPIPE'
        ? resolve({ status: 0, body: '', stored: false })
        : reject(error),
    );
    req.end(body);
  });
}

function randomFrame(prng: Prng, valid: { traceId: string; token: string }): string | Buffer {
  const id = prng.chance(0.1) ? prng.pick([null, 'x', -1, 1e20, {}]) : prng.int(50);
  const message = () => ({
    id,
    method: prng.pick([
      'query',
      'mutation',
      'subscription',
      'subscription.stop',
      'connectionParams',
      'teleport',
    ]),
    params: prng.chance(0.9)
      ? {
          path: prng.pick([
            'pets.create',
            'pets.list',
            'pets.get',
            'petCreation.onUpdate',
            'nope',
            '',
            '__proto__',
          ]),
          input: prng.chance(0.7)
            ? transformer.serialize(
                prng.chance(0.2) ? { ...valid, lastEventId: String(prng.int(12)) } : randomPet(prng),
              )
            : randomValue(prng),
          ...(prng.chance(0.1) ? { lastEventId: randomValue(prng) } : {}),
        }
      : randomValue(prng),
  });
  switch (prng.int(10)) {
    case 0:
      return Buffer.from(Array.from({ length: 1 + prng.int(64) }, () => prng.int(256)));
    case 1:
      return prng.pick(['PING', 'PONG', '', 'null', '[]', '{}', '[null]', 'not json']);
    case 2:
      return randomJson(prng);
    case 3:
      return JSON.stringify(Array.from({ length: prng.int(20) }, message));
    default:
      return JSON.stringify(message());
  }
}

function randomRawBytes(prng: Prng): Buffer {
  const payload = Buffer.from(Array.from({ length: prng.int(200) }, () => prng.int(256)));
  switch (prng.int(4)) {
    case 0:
      return payload;
    case 1:
      return clientFrame({
        opcode: prng.int(16),
        payload,
        rsv: prng.int(8),
        mask: prng.chance(0.7),
        fin: prng.chance(0.7),
      });
    case 2:
      return clientFrame({ opcode: 1, payload, claimedLength: prng.pick([2 ** 16, 2 ** 31, 2 ** 53]) });
    default:
      return Buffer.concat([
        clientFrame({
          opcode: 1,
          payload: Buffer.from('{"id":1,"method":"query","params":{"path":"pets.list"}}'),
        }),
        payload,
      ]);
  }
}

function garbageHttp(prng: Prng): Buffer {
  return Buffer.from(
    prng.pick([
      'GARBAGE\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`,
      'POST /trpc/pets.create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'POST /trpc/pets.create HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello',
      `GET /trpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      `GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${'A'.repeat(22)}==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      String.fromCharCode(...Array.from({ length: 100 }, () => prng.int(256))),
    ]),
    'latin1',
  );
}

async function sendGarbage(port: number, bytes: Buffer): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => {
    socket.once('connect', () => socket.end(bytes));
    socket.once('close', () => resolve());
    socket.resume();
  });
}

async function inBatches<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, count - start) }, (_, i) => task(start + i));
    results.push(...(await Promise.all(batch)));
  }
  return results;
}

async function expectHealthy(ctx: TestApp): Promise<void> {
  const created = await ctx.client.pets.create.mutate(buddy);
  expectCompleteWorkflow(
    await collect(ctx.newClient().watchPetCreation(created.traceId, created.streamToken)),
    buddy,
  );
}

describe('fuzz', () => {
  test('thousands of random and malformed requests and frames leave the server healthy and its memory bounded', async () => {
    const prng = createPrng(0x5eed);
    await using ctx = await startTestApp({
      env: { WS_MAX_PAYLOAD_BYTES: String(LIMIT), HTTP_MAX_BODY_BYTES: String(LIMIT) },
    });
    const port = Number(new URL(ctx.url).port);
    const storage = ctx.app.engine.backends.streamStorage;
    const real = await ctx.client.pets.create.mutate(max);
    const valid = { traceId: real.traceId, token: real.streamToken };
    await expectHealthy(ctx);
    const heapBefore = heapUsedAfterGc();

    // HTTP: random methods, paths, bodies, content types and query inputs.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const answers = await inBatches(HTTP_REQUESTS, 20, () => request(port, agent, prng));
    agent.destroy();
    const statuses = new Set(answers.map((a) => a.status));
    for (const answer of answers) {
      expect(answer.status, answer.body).toBeLessThan(500);
      expect(answer.body).not.toMatch(LEAK);
    }
    expect(statuses.size).toBeGreaterThan(5);

    // WebSocket: random frames over a pool of connections; oversized ones close theirs, which is replaced.
    const sockets: RawSocket[] = [];
    const everySocket: RawSocket[] = [];
    const openSocket = async () => {
      const socket = new RawSocket(ctx.wsUrl);
      everySocket.push(socket);
      await socket.opened();
      return socket;
    };
    for (let i = 0; i < WS_CONNECTIONS; i += 1) sockets.push(await openSocket());
    let closedByServer = 0;
    let storedOverWs = 0;
    for (let i = 0; i < WS_FRAMES; i += 1) {
      const slot = prng.int(sockets.length);
      let socket = sockets[slot];
      if (!socket || socket.socket.readyState !== socket.socket.OPEN) {
        closedByServer += 1;
        socket = await openSocket();
        sockets[slot] = socket;
      }
      socket.send(randomFrame(prng, valid));
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    // Every socket still open answers a real call after all that.
    await Promise.all(
      sockets
        .filter((s) => s.socket.readyState === s.socket.OPEN)
        .map(async (socket) => {
          socket.call(9999, 'query', 'pets.list', {});
          await socket.frame((f) => f['id'] === 9999 && 'result' in f);
        }),
    );
    for (const socket of everySocket) {
      for (const frame of socket.frames) {
        const text = JSON.stringify(frame);
        expect(text).not.toMatch(LEAK);
        if (text.includes('"streamToken"')) storedOverWs += 1;
      }
      socket.close();
    }

    // Bytes no WebSocket library would send, and requests no HTTP client would.
    const closeCodes = await inBatches(RAW_CONNECTIONS, 15, async () => {
      const bytes = randomRawBytes(prng);
      const raw = await RawTcpSocket.open(port);
      raw.write(bytes);
      // Half-close: a server waiting for the rest of a frame learns there is none.
      raw.socket.end();
      return RawTcpSocket.closeCode(await raw.ended);
    });
    // Every one was closed by the server; protocol errors with a close code saying why.
    expect(closeCodes).toHaveLength(RAW_CONNECTIONS);
    const codes = closeCodes.filter((code) => code !== null);
    expect(codes.length).toBeGreaterThan(0);
    for (const code of codes) expect([1002, 1007, 1009]).toContain(code);
    await inBatches(100, 20, () => sendGarbage(port, garbageHttp(prng)));

    // Healthy: a real create and subscription succeed.
    await expectHealthy(ctx);

    // Only valid pets were stored: every one passes the input schema as stored.
    // (A create whose socket the fuzz closed before the answer is stored unseen.)
    const pets = await allPages((page) => ctx.client.pets.list.query(page));
    expect(pets.length).toBeGreaterThanOrEqual(answers.filter((a) => a.stored).length + storedOverWs + 2);
    for (const pet of pets) {
      const { name, species, ageMonths, weightKg, symptoms } = pet;
      const input = {
        name,
        species,
        ageMonths,
        ...(weightKg === undefined ? {} : { weightKg }),
        ...(symptoms ? { symptoms } : {}),
      };
      expect(PetInputSchema.parse(input)).toEqual(input);
    }

    // Bounded: every listener and connection of the fuzz is gone, the heap is back near where it was.
    await vi.waitFor(() => expect(storage.listenerCount()).toBe(0), { timeout: 10_000 });
    await vi.waitFor(
      async () => {
        const open = await new Promise<number>((resolve, reject) =>
          ctx.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
        );
        // The test client's own connections, at most.
        expect(open).toBeLessThanOrEqual(4);
      },
      { timeout: 10_000 },
    );
    // What the test itself kept (answers, frames, log lines) is let go first: the heap measures the server.
    answers.length = 0;
    sockets.length = 0;
    everySocket.length = 0;
    ctx.logs.length = 0;
    const growth = heapUsedAfterGc() - heapBefore;
    expect(growth).toBeLessThan(32 * 1024 * 1024);
    expect(closedByServer).toBeGreaterThan(0);
  }, 60_000);
});
