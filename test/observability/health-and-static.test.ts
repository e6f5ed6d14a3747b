import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { healthRoutes } from '../../server/engine/transport/health-routes.js';
import { matchRoute, type HttpRoute } from '../../server/engine/transport/http-routes.js';
import { staticRoutes } from '../../server/engine/transport/static-routes.js';
import { startTestApp } from '../support/test-app.js';

/** A bare HTTP server over some routes, on an ephemeral loopback port. */
async function serve(routes: readonly HttpRoute[]): Promise<AsyncDisposable & { readonly url: string }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = matchRoute(routes, req.method ?? 'GET', url.pathname);
    if (match === null || match === 'methodMismatch') {
      res.writeHead(404).end();
      return;
    }
    void match.route.handle(req, res, match.params, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('health endpoints', () => {
  test('/healthz and /readyz answer on a running app', async () => {
    await using ctx = await startTestApp();
    const live = await fetch(`${ctx.url}/healthz`);
    expect([live.status, await live.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${ctx.url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
  });

  test.each([
    ['reports a backend down', () => Promise.resolve(false)],
    ['fails', () => Promise.reject(new Error('connection refused'))],
    ['does not answer in time', () => new Promise<boolean>(() => {})],
  ])('/readyz is 503 when the readiness check %s', async (_name, ready) => {
    await using server = await serve(healthRoutes({ ready, readyTimeoutMs: 50 }));
    const response = await fetch(`${server.url}/readyz`);
    expect([response.status, await response.json()]).toEqual([503, { status: 'unavailable' }]);
    // Liveness does not depend on the backends.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe('workbench files', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'workbench-'));
    await mkdir(path.join(root, 'assets'));
    await writeFile(path.join(root, 'index.html'), '<!doctype html><title>Workbench</title>');
    await writeFile(path.join(root, 'assets', 'index-AbC_12.js'), 'console.log(1)');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  test('serves the page with a strict policy and hashed assets as immutable', async () => {
    await using server = await serve(staticRoutes({ root }));
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('<title>Workbench</title>');

    const script = await fetch(`${server.url}/assets/index-AbC_12.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toContain('immutable');
  });

  test.each([
    '/assets/missing.js',
    '/assets/%2e%2e%2fpackage.json',
    '/assets/..%2Fpackage.json',
    '/assets/index-AbC_12.exe',
  ])('%s is not found', async (requestPath) => {
    await using server = await serve(staticRoutes({ root }));
    expect((await fetch(`${server.url}${requestPath}`)).status).toBe(404);
  });

  test('a missing build says how to make it', async () => {
    await using server = await serve(staticRoutes({ root: path.join(root, 'nowhere') }));
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'WORKBENCH_NOT_BUILT' } });
  });
});

describe('React example files', () => {
  let root = '';
  let example = '';
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'react-example-'));
    example = path.join(root, 'example');
    await mkdir(path.join(example, 'assets'), { recursive: true });
    await writeFile(path.join(example, 'index.html'), '<!doctype html><title>React example</title>');
    await writeFile(path.join(example, 'assets', 'index-Xy_9.js'), 'console.log(2)');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  test.each(['/examples/react', '/examples/react/', '/examples/react/index.html'])(
    '%s serves the page with the strict policy',
    async (requestPath) => {
      await using server = await serve(
        staticRoutes({ root: path.join(root, 'nowhere'), reactExampleRoot: example }),
      );
      const page = await fetch(`${server.url}${requestPath}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await page.text()).toContain('<title>React example</title>');
    },
  );

  test('its hashed assets are immutable; the workbench assets path does not reach them', async () => {
    await using server = await serve(
      staticRoutes({ root: path.join(root, 'nowhere'), reactExampleRoot: example }),
    );
    const script = await fetch(`${server.url}/examples/react/assets/index-Xy_9.js`);
    expect([script.status, await script.text()]).toEqual([200, 'console.log(2)']);
    expect(script.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${server.url}/assets/index-Xy_9.js`)).status).toBe(404);
  });

  test.each([
    '/examples/react/assets/missing.js',
    '/examples/react/assets/..%2Findex.html',
    '/examples/react/assets/%2e%2e%2f%2e%2e%2fpackage.json',
    '/examples/reactx/',
  ])('%s is not found', async (requestPath) => {
    await using server = await serve(
      staticRoutes({ root: path.join(root, 'nowhere'), reactExampleRoot: example }),
    );
    expect((await fetch(`${server.url}${requestPath}`)).status).toBe(404);
  });

  test('a missing build says how to make it', async () => {
    await using server = await serve(staticRoutes({ reactExampleRoot: path.join(root, 'nowhere') }));
    const response = await fetch(`${server.url}/examples/react/`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      error: { code: 'EXAMPLE_NOT_BUILT', message: expect.stringContaining('npm run build:examples') },
    });
  });
});
