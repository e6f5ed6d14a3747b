/**
 * Production runs compiled JavaScript: `npm run build:server` (part of
 * `npm run build`, and run by `npm start` first) compiles the server, and the compiled
 * service, started as `npm start` starts it, runs a whole workflow with no
 * TypeScript loader in the process.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { beforeAll, describe, expect, test } from 'vitest';

import { TraceIdSchema } from '../../shared/trace-id.js';
import { startOtlpReceiver } from '../support/otlp-receiver.js';
import { buddy, enrichmentEvents, feedingMessages, max } from '../support/pets.js';
import { startServerProcess } from '../support/server-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

describe('the production build', () => {
  beforeAll(async () => {
    await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT },
    );
  }, 60_000);

  test('`npm start` runs the compiled entry point with plain node, after building it', async () => {
    const { scripts } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(scripts['start']).toBe('node dist/server/main.js');
    // What serving needs is built first; `npm run build` also builds the client package.
    expect(scripts['prestart']).toBe('npm run build:server && npm run build:web && npm run build:examples');
    expect(scripts['build']).toBe(`${scripts['prestart']} && npm run build:client`);
    expect(scripts['build:server']).toBe('tsc -p tsconfig.build.json');
  });

  test('the compiled server finds the built workbench in dist/web, as the sources do', async () => {
    const compiled = (await import(
      pathToFileURL(path.join(ROOT, 'dist/server/engine/transport/static-routes.js')).href
    )) as {
      WORKBENCH_DIR: string;
    };
    const sources = await import('../../server/engine/transport/static-routes.js');
    expect(compiled.WORKBENCH_DIR).toBe(path.join(ROOT, 'dist/web/'));
    expect(sources.WORKBENCH_DIR).toBe(compiled.WORKBENCH_DIR);
  });

  test('the compiled service runs a whole pet creation workflow, without a TypeScript loader', async () => {
    await using server = await startServerProcess(
      { FEEDING_CHECK_DELAY_MS: '0', STEP_RETRY_BASE_MS: '0' },
      'compiled',
    );
    expect(server.child.spawnargs.slice(1)).toEqual(['dist/server/main.js']);
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });

    const client = server.newClient();
    const created = await client.pets.create.mutate(buddy);
    const events: { itemId: string; message: string | undefined }[] = [];
    await new Promise<void>((resolve, reject) => {
      client.petCreation.onUpdate.subscribe(
        { traceId: TraceIdSchema.parse(created.traceId), token: created.streamToken },
        {
          onData: ({ data }) => events.push({ itemId: data.itemId, message: data.data?.message }),
          onComplete: resolve,
          onError: reject,
        },
      );
    });
    const messages = events.map((e) => e.message);
    expect(messages[0]).toMatch(/^Pet Buddy \(ID: \d+\) created successfully/);
    expect(messages.filter((m) => feedingMessages(buddy).includes(m ?? ''))).toEqual(feedingMessages(buddy));
    expect(
      events
        .filter((e) => enrichmentEvents('Buddy', true).some(([item]) => item === e.itemId))
        .map((e) => e.message),
    ).toEqual(enrichmentEvents('Buddy', true).map(([, message]) => message));
    expect(messages.at(-1)).toBe('Pet creation workflow finished for Buddy');
  });

  test('the compiled service exports the workflow as one OTLP trace (the SDK loaded from dist)', async () => {
    await using receiver = await startOtlpReceiver();
    await using server = await startServerProcess(
      {
        FEEDING_CHECK_DELAY_MS: '0',
        STEP_RETRY_BASE_MS: '0',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_SERVICE_NAME: 'shelter-compiled',
        OTEL_BSP_SCHEDULE_DELAY: '0',
      },
      'compiled',
    );
    const { traceId } = await server.newClient().pets.create.mutate(max);
    await receiver.waitFor((spans) => spans.filter((s) => s.traceId === traceId).length === 3);
    const spans = receiver.trace(traceId);
    const root = spans.find((s) => s.parentSpanId === null);
    expect(root).toMatchObject({ name: 'pets.create', resource: { 'service.name': 'shelter-compiled' } });
    expect(
      spans
        .filter((s) => s !== root)
        .map((s) => [s.name, s.parentSpanId, s.attributes['workflow.outcome']])
        .sort(),
    ).toEqual([
      ['AiProfileEnrichment', root?.spanId, 'succeeded'],
      ['FeedingReminder', root?.spanId, 'succeeded'],
    ]);
  });
});
