/**
 * Graceful shutdown: the process ends in bounded time even when nobody reads
 * its log; running steps get the grace time to finish, and what cannot
 * finish is reported as interrupted by the shutdown, never as a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

import { afterAll, describe, expect, test } from 'vitest';

import type { PetClient } from '../../client/create-client.js';
import { petCreationWorkflow } from '../../server/app/pet-shelter/pets/workflow.js';
import type { ApplicationServices, StepDefinition } from '../../server/engine/index.js';
import { createDeferred } from '../../shared/deferred.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import type { TraceEntry } from '../../shared/trace.js';
import { parseSamples, valueOf } from '../observability/prometheus-text.js';
import { buddy, enrichmentEvents } from '../support/pets.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTestApp } from '../support/test-app.js';

/** Mirrors server/main.ts: the process ends at the latest this long after SHUTDOWN_TIMEOUT_MS. */
const EXIT_MARGIN_MS = 2000;

/** Resolves with the port of the `Listening` line, then stops reading: nothing reads the log any more. */
function listeningPort(child: ChildProcess): Promise<number> {
  const port = createDeferred<number>();
  const { stdout } = child;
  if (!stdout) throw new Error('stdout must be a pipe');
  const lines = createInterface({ input: stdout });
  lines.on('line', (text) => {
    const line = JSON.parse(text) as { msg?: string; port?: number };
    if (line.msg !== 'Listening' || line.port === undefined) return;
    lines.close();
    stdout.pause();
    port.resolve(line.port);
  });
  child.once('exit', (code) => port.reject(new Error(`server exited with ${code} before listening`)));
  return port.promise;
}

async function droppedLogLines(url: string): Promise<number> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  return valueOf(parseSamples(await response.text()), 'pet_stream_log_lines_dropped_total');
}

describe('a server whose log reader stops reading', () => {
  test('SIGTERM: the process exits within the shutdown time; the lines it cannot write are dropped and counted', async () => {
    const shutdownTimeoutMs = 1000;
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: new URL('../..', import.meta.url),
      env: {
        PATH: process.env['PATH'] ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'debug',
        LOG_MAX_BUFFERED_BYTES: '16384',
        SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
        FEEDING_CHECK_DELAY_MS: '0',
        RATE_LIMIT_CREATE_PER_MINUTE: '0',
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      const url = `http://127.0.0.1:${await listeningPort(child)}`;
      // Workflows log until the pipe and the log's bound are full: the server starts dropping lines.
      let dropped = 0;
      for (let created = 0; dropped === 0 && created < 1000; created += 10) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            const response = await fetch(`${url}/pets`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ ...buddy, name: `Buddy ${created + i}` }),
            });
            await response.arrayBuffer();
          }),
        );
        dropped = await droppedLogLines(url);
      }

      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        exited,
        new Promise<'still running'>((resolve) => {
          // Generous: a hung process never exits at all.
          timer = setTimeout(() => resolve('still running'), shutdownTimeoutMs + EXIT_MARGIN_MS + 5000);
        }),
      ]).finally(() => clearTimeout(timer));
      expect(exit).toEqual({ code: 0, signal: null });
      expect(dropped).toBeGreaterThan(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  }, 60_000);
});

describe('graceful shutdown with clients that hold on', () => {
  test('a refused WebSocket upgrade kept half-open by its client does not hold up the shutdown', async () => {
    await using ctx = await startTestApp();
    const { port } = ctx.app.server.address() as AddressInfo;
    // A client that never closes its side, as a hostile or broken one would.
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const refused = createDeferred<string>();
    socket.setEncoding('utf8');
    socket.once('data', (data: string) => refused.resolve(data.split('\r\n')[0] ?? ''));
    socket.write(
      [
        'GET /not-trpc HTTP/1.1',
        'Host: 127.0.0.1',
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        '',
        '',
      ].join('\r\n'),
    );
    expect(await refused.promise).toBe('HTTP/1.1 404 Not Found');

    try {
      await ctx.app.close();
      expect(ctx.logs.filter((l) => l.msg === 'Stopped')).toHaveLength(1);
    } finally {
      socket.destroy();
    }
  });
});

/**
 * The service's steps, except that `name` holds once started, until
 * `release` is called (never, to hold it for good).
 */
type Step = StepDefinition<ApplicationServices>;

function holdStep(name: string) {
  const started = createDeferred<void>();
  const released = createDeferred<void>();
  const steps: readonly Step[] = petCreationWorkflow.steps.map((step) =>
    step.name === name
      ? {
          ...step,
          handle: async (...args: Parameters<Step['handle']>) => {
            started.resolve();
            await released.promise;
            return step.handle(...args);
          },
        }
      : step,
  );
  return { steps, started: started.promise, release: () => released.resolve() };
}

/**
 * Every event the server sends on one tRPC subscription (no client-side
 * de-duplication); `seen` resolves at the first event matching `until`.
 */
function watch(
  client: PetClient,
  input: { readonly traceId: string; readonly token: string },
  until: (event: PetCreationEvent) => boolean,
) {
  const events: PetCreationEvent[] = [];
  const seen = createDeferred<void>();
  const finished = createDeferred<PetCreationEvent[]>();
  const subscription = client.petCreation.onUpdate.subscribe(input, {
    onData: ({ data }) => {
      events.push(data);
      if (until(data)) seen.resolve();
      if (data.kind === 'finished') finished.resolve(events);
    },
    onError: (error) => finished.reject(error),
  });
  return { events, seen: seen.promise, finished: finished.promise, stop: () => subscription.unsubscribe() };
}

const INTERRUPTED = '⏸️ FeedingReminder interrupted by shutdown';

describe('graceful shutdown with steps running (memory)', () => {
  test('a step that finishes within the grace time completes normally; watchers see the whole workflow', async () => {
    const feeding = holdStep('FeedingReminder');
    await using ctx = await startTestApp({ steps: feeding.steps, env: { SHUTDOWN_TIMEOUT_MS: '20000' } });
    const created = await ctx.client.pets.create.mutate(buddy);
    const watcher = watch(ctx.client, { traceId: created.traceId, token: created.streamToken }, () => true);
    await Promise.all([watcher.seen, feeding.started]);

    const closed = ctx.app.close();
    // The shutdown has begun: the held step now runs to its end.
    feeding.release();
    const events = await watcher.finished;
    await closed;

    expectCompleteWorkflow(events, buddy);
    expect(events.some((e) => e.itemId.startsWith('failed_'))).toBe(false);
    expect(await ctx.app.engine.bus.deadLetters()).toEqual([]);
    expect(ctx.logs.filter((l) => l.msg.startsWith('⏸️') || l.level >= 50)).toEqual([]);
    expect(ctx.logs.filter((l) => l.traceId === created.traceId).map((l) => l.msg)).toContain(
      '✅ Next feeding reminder set',
    );
  });

  test('a step that cannot finish within the grace time is reported as interrupted: no failure, no dead letter', async () => {
    const feeding = holdStep('FeedingReminder');
    await using ctx = await startTestApp({ steps: feeding.steps, env: { SHUTDOWN_TIMEOUT_MS: '50' } });
    const created = await ctx.client.pets.create.mutate(buddy);
    const watcher = watch(
      ctx.client,
      { traceId: created.traceId, token: created.streamToken },
      (e) => e.itemId === 'completed',
    );
    const entries: TraceEntry[] = [];
    const unlisten = ctx.app.engine.observability.traces.listen(created.traceId, {
      entry: (entry) => entries.push(entry),
      gone: () => undefined,
    });
    // The enrichment step is done; the feeding step is running and will never finish.
    await Promise.all([watcher.seen, feeding.started]);

    await ctx.app.close();
    unlisten();
    watcher.stop();

    // What the watcher received: the created message and the enrichment, no failure, no end.
    expect(watcher.events.map((e) => [e.itemId, e.data?.message])).toEqual([
      ['message', created.stream.data?.message],
      ...enrichmentEvents(buddy.name, true),
    ]);
    expect(await ctx.app.engine.bus.deadLetters()).toEqual([]);
    const workflowLines = ctx.logs.filter((l) => l.traceId === created.traceId);
    expect(workflowLines.filter((l) => l.level >= 40)).toMatchObject([
      { level: 40, step: 'FeedingReminder', msg: INTERRUPTED, attempt: 1 },
    ]);
    expect(ctx.logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(entries).toContainEqual(
      expect.objectContaining({
        kind: 'step_finished',
        step: 'FeedingReminder',
        status: 'interrupted',
        error: null,
      }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({ kind: 'log', level: 'warn', step: 'FeedingReminder', msg: INTERRUPTED }),
    );
    expect(entries.some((e) => e.kind === 'workflow_finished')).toBe(false);
  });
});

describe('graceful shutdown with steps running (Redis)', () => {
  const prefix = randomKeyPrefix();
  afterAll(() => deleteKeys(prefix));
  const env = {
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    SHUTDOWN_TIMEOUT_MS: '50',
  };

  test('an interrupted step goes back to the queue: another instance runs it and the workflow finishes normally', async () => {
    const feeding = holdStep('FeedingReminder');
    await using a = await startTestApp({ steps: feeding.steps, env });
    const created = await a.client.pets.create.mutate(buddy);
    await feeding.started;

    // B starts once A holds the step, so the step is A's until A shuts down.
    await using b = await startTestApp({ env });
    const watcher = watch(b.client, { traceId: created.traceId, token: created.streamToken }, () => true);
    await watcher.seen;

    await a.app.close();
    const events = await watcher.finished;

    expectCompleteWorkflow(events, buddy);
    expect(a.logs.filter((l) => l.msg === INTERRUPTED)).toMatchObject([
      { traceId: created.traceId, step: 'FeedingReminder', attempt: 1 },
    ]);
    expect([...a.logs, ...b.logs].filter((l) => l.level >= 50)).toEqual([]);
    expect(await b.app.engine.bus.deadLetters()).toEqual([]);
    expect(b.logs.filter((l) => l.traceId === created.traceId).map((l) => l.msg)).toContain(
      '✅ Next feeding reminder set',
    );
  });
});
