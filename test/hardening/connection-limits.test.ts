/**
 * Connections are capped in total and per client, whatever they carry
 * (SSE, WebSocket, plain HTTP, nothing yet), and a client that is slow to
 * send a request is cut after the configured timeouts.
 */
import http from 'node:http';
import net from 'node:net';

import { describe, expect, test, vi } from 'vitest';

import { ConfigError, loadConfig } from '../../server/engine/config.js';
import { createContextFactory } from '../../server/engine/transport/context.js';
import { createCaller } from '../../server/app/pet-shelter/app-router.js';
import { clientOf } from '../../server/engine/security/connection-limits.js';
import { createDeferred } from '../../shared/deferred.js';
import { gatedSteps } from '../support/gated-steps.js';
import { buddy } from '../support/pets.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { RawSocket, UpgradeRefused } from './support/raw-ws.js';

/** A loopback address other than 127.0.0.1: another client as far as the server can tell. */
const OTHER_CLIENT = '127.0.0.2';

type Answer = { readonly status: number; readonly headers: http.IncomingHttpHeaders; readonly body: string };

/** One request on a connection of its own (closed after the answer), from `localAddress`. */
function request(
  ctx: TestApp,
  path: string,
  options: { readonly localAddress?: string } = {},
): Promise<Answer> {
  const { port } = new URL(ctx.url);
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path, agent: false, localAddress: options.localAddress },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
  });
}

/** A TCP connection that sends what it is told to, and keeps what it receives. */
async function rawConnection(ctx: TestApp, options: { readonly localAddress?: string } = {}) {
  const socket = net.connect({
    host: '127.0.0.1',
    port: Number(new URL(ctx.url).port),
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed, received: () => received };
}

/** An open plain SSE stream of a workflow that does not finish during the test. */
async function openSse(ctx: TestApp, traceId: string, token: string) {
  const { port } = new URL(ctx.url);
  const firstEvent = createDeferred<http.IncomingMessage>();
  const req = http.get(
    { host: '127.0.0.1', port, path: `/pets/streams/${traceId}?token=${token}`, agent: false },
    (res) => {
      res.setEncoding('utf8');
      res.once('data', () => firstEvent.resolve(res));
    },
  );
  req.on('error', (error) => firstEvent.reject(error));
  const res = await firstEvent.promise;
  expect(res.statusCode).toBe(200);
  return { res, close: () => req.destroy() };
}

const REFUSAL = {
  status: 503,
  body: JSON.stringify({
    error: { code: 'SERVICE_UNAVAILABLE', message: 'Too many open connections; retry later' },
  }),
};

describe('connection caps', () => {
  test('per client, SSE streams, WebSockets and idle connections all count; the next is refused 503 with Retry-After; another client is served; a freed slot is reused', async () => {
    const gate = createDeferred<void>();
    await using ctx = await startTestApp({
      env: { MAX_CONNECTIONS_PER_CLIENT: '3' },
      steps: gatedSteps('FeedingReminder', gate.promise),
    });
    // Created in process: no connection of the test client is held open.
    const created = await createCaller(createContextFactory(ctx.app.engine)()).pets.create(buddy);
    const sse = await openSse(ctx, created.traceId, created.streamToken);
    const ws = new RawSocket(ctx.wsUrl);
    await ws.opened();
    const idle = await rawConnection(ctx);

    const refused = await request(ctx, '/healthz');
    expect({ status: refused.status, body: refused.body }).toEqual(REFUSAL);
    expect(refused.headers['retry-after']).toBe('1');
    expect(await new RawSocket(ctx.wsUrl).opened().catch((error: unknown) => error)).toEqual(
      new UpgradeRefused(503),
    );
    const refusedSse = await request(ctx, `/pets/streams/${created.traceId}?token=${created.streamToken}`);
    expect(refusedSse.status).toBe(503);

    // Another address is another client: served, over HTTP and WebSocket.
    expect(await request(ctx, '/healthz', { localAddress: OTHER_CLIENT })).toMatchObject({ status: 200 });
    const otherWs = new RawSocket(ctx.wsUrl, { localAddress: OTHER_CLIENT });
    await otherWs.opened();
    otherWs.close();

    // The connections that were admitted keep being served.
    ws.call(1, 'query', 'pets.get', { id: created.pet.id });
    expect(await ws.frame((f) => f['id'] === 1)).toHaveProperty('result');
    expect(sse.res.destroyed).toBe(false);

    // A closed connection frees its slot (the server learns of the close a moment after the client).
    idle.socket.destroy();
    await idle.closed;
    await vi.waitFor(async () => expect((await request(ctx, '/healthz')).status).toBe(200));
    sse.close();
    ws.close();
    gate.resolve();
  });

  test('in total, across clients: past MAX_CONNECTIONS every client is refused', async () => {
    await using ctx = await startTestApp({ env: { MAX_CONNECTIONS: '2' } });
    const held = [await rawConnection(ctx), await rawConnection(ctx, { localAddress: OTHER_CLIENT })];
    const refused = await request(ctx, '/healthz', { localAddress: '127.0.0.3' });
    expect({ status: refused.status, body: refused.body }).toEqual(REFUSAL);
    held[0]?.socket.destroy();
    await held[0]?.closed;
    await vi.waitFor(async () =>
      expect((await request(ctx, '/healthz', { localAddress: '127.0.0.3' })).status).toBe(200),
    );
    held[1]?.socket.destroy();
  });

  test('a refused connection frees nothing it never held: the admitted count stays at the cap', async () => {
    await using ctx = await startTestApp({ env: { MAX_CONNECTIONS_PER_CLIENT: '1' } });
    const held = await rawConnection(ctx);
    for (let i = 0; i < 5; i += 1) expect((await request(ctx, '/healthz')).status).toBe(503);
    held.socket.destroy();
    await held.closed;
    await vi.waitFor(async () => expect((await request(ctx, '/healthz')).status).toBe(200));
    // One connection at a time again: a second held one is refused.
    const again = await rawConnection(ctx);
    await vi.waitFor(async () => expect((await request(ctx, '/healthz')).status).toBe(503));
    again.socket.destroy();
  });
});

describe('timeouts', () => {
  const env = {
    HTTP_HEADERS_TIMEOUT_MS: '200',
    HTTP_REQUEST_TIMEOUT_MS: '400',
    HTTP_KEEP_ALIVE_TIMEOUT_MS: '200',
  };

  test('headers sent too slowly: 408 and closed after HTTP_HEADERS_TIMEOUT_MS', async () => {
    await using ctx = await startTestApp({ env });
    const slow = await rawConnection(ctx);
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: shelter\r\n');
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  test('a connection that sends nothing: 408 and closed after HTTP_HEADERS_TIMEOUT_MS', async () => {
    await using ctx = await startTestApp({ env });
    const silent = await rawConnection(ctx);
    await silent.closed;
    expect(silent.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  test('a body sent too slowly: 408 and closed after HTTP_REQUEST_TIMEOUT_MS, nothing stored', async () => {
    await using ctx = await startTestApp({ env });
    const slow = await rawConnection(ctx);
    slow.socket.write(
      'POST /pets HTTP/1.1\r\nHost: shelter\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":',
    );
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect((await ctx.client.pets.list.query()).items).toEqual([]);
  });

  test('an idle keep-alive connection is closed once HTTP_KEEP_ALIVE_TIMEOUT_MS has passed', async () => {
    await using ctx = await startTestApp({ env });
    const keptAlive = await rawConnection(ctx);
    keptAlive.socket.write('GET /healthz HTTP/1.1\r\nHost: shelter\r\n\r\n');
    await keptAlive.closed;
    expect(keptAlive.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\{"status":"ok"\}$/);
  });

  test('an SSE stream stays open past every timeout while its workflow runs', async () => {
    const gate = createDeferred<void>();
    await using ctx = await startTestApp({
      env: { ...env, SSE_HEARTBEAT_MS: '0' },
      steps: gatedSteps('FeedingReminder', gate.promise),
    });
    const created = await createCaller(createContextFactory(ctx.app.engine)()).pets.create(buddy);
    const sse = await openSse(ctx, created.traceId, created.streamToken);
    // A connection opened after the stream is cut by the headers timeout; the stream is not.
    const silent = await rawConnection(ctx);
    await silent.closed;
    const again = await rawConnection(ctx);
    await again.closed;
    expect(sse.res.destroyed).toBe(false);
    sse.close();
    gate.resolve();
  });
});

describe('configuration', () => {
  test('the headers timeout may not exceed the request timeout; the per-client cap is at most the total', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '4999' })).toThrow(
      new ConfigError([
        'HTTP_HEADERS_TIMEOUT_MS: must be at most HTTP_REQUEST_TIMEOUT_MS (4999) (got "5000")',
      ]),
    );
    expect(
      loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '5000' }).limits,
    ).toMatchObject({
      httpHeadersTimeoutMs: 5000,
      httpRequestTimeoutMs: 5000,
    });
    expect(loadConfig({ MAX_CONNECTIONS: '10' }).limits.maxConnectionsPerClient).toBe(10);
    expect(loadConfig({}).limits).toMatchObject({
      maxConnections: 10_000,
      maxConnectionsPerClient: 256,
      httpHeadersTimeoutMs: 10_000,
      httpRequestTimeoutMs: 30_000,
      httpKeepAliveTimeoutMs: 5000,
      maxResponseBytes: 4_194_304,
    });
  });
});

test('a client is an IPv4 address, or an IPv6 /64', () => {
  expect(clientOf('192.0.2.1')).toBe('192.0.2.1');
  expect(clientOf('::ffff:192.0.2.1')).toBe('192.0.2.1');
  expect(clientOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
  expect(clientOf('2001:0db8:0001:0002::9')).toBe('2001:db8:1:2::/64');
  expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
  expect(clientOf('2001:db8:1:3::1')).not.toBe(clientOf('2001:db8:1:2::1'));
  expect(clientOf('::1')).toBe('0:0:0:0::/64');
});
