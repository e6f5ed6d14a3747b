import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { describe, expect, test } from 'vitest';

import { createDeferred } from '../../shared/deferred.js';
import type { Pet } from '../../shared/pet.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import { collect } from '../support/async.js';
import { buddy, luna, max } from '../support/pets.js';
import { gatedSteps } from '../support/gated-steps.js';
import { deleteKeys, randomKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { expectCompleteWorkflow } from '../support/stream-assertions.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { petCreationOf } from '../support/stored.js';

type DemoRun = { readonly code: number | null; readonly stdout: string[]; readonly stderr: string };

/** What `npm run demo` runs (`tsx client/demo.ts`), without npm's and npx's start-up time. */
const TSX = path.join(process.cwd(), 'node_modules', '.bin', 'tsx');

/** Runs the demo as users do, as a child process; `onLine` sees each stdout line as it comes. */
function runDemo(args: readonly string[], onLine: (line: string) => void = () => {}): Promise<DemoRun> {
  const child = spawn(TSX, ['client/demo.ts', ...args], {
    cwd: process.cwd(),
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout.push(line);
    onLine(line);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const UNKNOWN_TRACE_ID = '0123456789abcdef0123456789abcdef';

const serverLog = (ctx: TestApp, traceId: string) =>
  collect(petCreationOf(ctx.app.engine).subscribe(traceId));

/** The plain line the demo prints for an event. */
const plainLine = (event: PetCreationEvent) =>
  `[${(event.data?.stage ?? '').padEnd(10)} ${String(event.data?.progress).padStart(3)}%] ${event.data?.message}`;

/** Nothing can listen on port 0: connecting there is refused, every time. */
const REFUSED_URL = 'http://127.0.0.1:0';

/** A server that accepts each connection and closes it at once, without a word. */
async function silentServer(): Promise<AsyncDisposable & { readonly url: string }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// Each run starts a Node process that compiles the demo: slower than in-process tests.

/** The seed's Max as demo flags. */
const MAX_FLAGS = ['--name', 'Max', '--species', 'dog', '--age', '24', '--symptom', 'coughing'];

describe('npm run demo', { timeout: 30_000 }, () => {
  test("with no pet flags creates the seed's Max and shows its workflow in order, then the pet; exit 0", async () => {
    await using ctx = await startTestApp();
    const run = await runDemo(['--url', ctx.url]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const [header, hint, ...rest] = run.stdout;
    const [, petId = '', traceId = ''] =
      /^Created Max \(pet (\w+), dog, 24 months\) · trace ([0-9a-f]{32})$/.exec(header ?? '') ?? [];
    expect(header).toBe(`Created Max (pet ${petId}, dog, 24 months) · trace ${traceId}`);
    expect(hint).toMatch(
      new RegExp(
        `^Watch it again: npm run demo -- --watch ${traceId} --token v2\\.petCreation\\.${traceId}\\.`,
      ),
    );
    const events = await serverLog(ctx, traceId);
    expectCompleteWorkflow(events, max);
    expect(rest.slice(0, events.length)).toEqual(events.map(plainLine));

    expect(await ctx.client.pets.get.query({ id: petId })).toMatchObject({ ...max, status: 'ill' });
    expect(rest.slice(events.length, events.length + 3)).toEqual([
      '',
      `Max (pet ${petId}): dog, 24 months, ill`,
      '  symptoms       coughing',
    ]);
  });

  test('creates a pet from flags, shows each event as a line, then the finished profile; exit 0', async () => {
    await using ctx = await startTestApp();
    const run = await runDemo([
      '--url',
      ctx.url,
      '--name',
      'Luna',
      '--species',
      'cat',
      '--age',
      '18',
      '--symptom',
      'sneezing',
      '--symptom',
      'watery eyes',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const [header, hint, ...rest] = run.stdout;
    const traceId = /trace ([0-9a-f]{32})$/.exec(header ?? '')?.[1] ?? '';
    expect(header).toMatch(/^Created Luna \(pet \w+, cat, 18 months\) · trace [0-9a-f]{32}$/);
    expect(hint).toMatch(
      new RegExp(
        `^Watch it again: npm run demo -- --watch ${traceId} --token v2\\.petCreation\\.${traceId}\\.`,
      ),
    );
    const events = await serverLog(ctx, traceId);
    expectCompleteWorkflow(events, luna);
    expect(rest.slice(0, events.length)).toEqual(events.map(plainLine));

    const pet = (await ctx.client.pets.list.query()).items[0];
    expect(rest.slice(events.length)).toEqual([
      '',
      `Luna (pet ${pet?.id}): cat, 18 months, ill`,
      '  symptoms       sneezing, watery eyes',
      "  notes          Welcome to our pet store! We'll take great care of this pet.",
      `  next feeding   ${pet?.nextFeedingAt}`,
      `  bio            ${pet?.profile?.bio}`,
      `  breed guess    ${pet?.profile?.breedGuess}`,
      `  temperament    ${pet?.profile?.temperamentTags.join(', ')}`,
      `  adopter hints  ${pet?.profile?.adopterHints}`,
    ]);
  });

  test('--json over SSE resumes after the server cuts every connection: each event once, then the pet', async () => {
    // The feeding step starts only once the demo has lost its connection and
    // is reconnecting, so the cut always comes mid-workflow.
    const reconnecting = createDeferred<void>();
    await using ctx = await startTestApp({ steps: gatedSteps('FeedingReminder', reconnecting.promise) });
    const run = await runDemo(['--url', ctx.url, '--transport', 'sse', '--json', ...MAX_FLAGS], (line) => {
      const parsed = JSON.parse(line) as { type: string; state?: string; event?: PetCreationEvent };
      if (parsed.event?.itemId === 'completed') ctx.app.destroyConnections();
      if (parsed.state === 'reconnecting') reconnecting.resolve();
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.map(
      (line) =>
        JSON.parse(line) as {
          type: string;
          event?: PetCreationEvent;
          pet?: Pet;
          traceId?: string;
          state?: string;
        },
    );
    const created = lines[0];
    expect(created?.type).toBe('created');
    const events = lines.filter((l) => l.type === 'event').map((l) => l.event);
    expect(events).toEqual(await serverLog(ctx, created?.traceId ?? ''));
    expectCompleteWorkflow(
      events.filter((e) => e !== undefined),
      max,
    );
    const states = lines.filter((l) => l.type === 'state').map((l) => l.state);
    expect(states[0]).toBe('connecting');
    expect(states).toContain('reconnecting');
    expect(states.slice(states.lastIndexOf('reconnecting') + 1)).toEqual(['open', 'closed']);
    const last = lines.at(-1);
    expect(last?.type).toBe('pet');
    expect(last?.pet).toMatchObject({ name: 'Max', status: 'ill' });
  });

  test('survives a server restart mid-run on Redis: resumes where it stopped, then exits 0', async () => {
    const prefix = randomKeyPrefix();
    // The feeding step's pauses keep the workflow running across the restart; with no grace
    // time, the shutdown interrupts the step at once and the new server runs it.
    const env = {
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      FEEDING_CHECK_DELAY_MS: '1000',
      SHUTDOWN_TIMEOUT_MS: '0',
    };
    const first = await startTestApp({ env });
    // The demo's address stays the same across the restart: a proxy in front of whichever server runs.
    await using proxy = await startTcpProxy((first.app.server.address() as AddressInfo).port);
    let second: TestApp | undefined;
    let restart: Promise<void> | undefined;
    try {
      const run = await runDemo(['--url', proxy.url, '--json', ...MAX_FLAGS], (line) => {
        if (restart || (JSON.parse(line) as { type: string }).type !== 'event') return;
        restart = (async () => {
          proxy.point(null);
          await first[Symbol.asyncDispose]();
          second = await startTestApp({ env });
          proxy.point((second.app.server.address() as AddressInfo).port);
        })();
      });
      await restart;
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const lines = run.stdout.map(
        (line) =>
          JSON.parse(line) as {
            type: string;
            event?: PetCreationEvent;
            pet?: Pet;
            traceId?: string;
            state?: string;
          },
      );
      if (!second) throw new Error('the server was not restarted');
      const events = lines.filter((l) => l.type === 'event').map((l) => l.event);
      expect(events).toEqual(await serverLog(second, lines[0]?.traceId ?? ''));
      expect(lines.filter((l) => l.type === 'state').map((l) => l.state)).toContain('reconnecting');
      expect(lines.at(-1)?.pet).toMatchObject({ name: 'Max', status: 'ill' });
    } finally {
      await second?.[Symbol.asyncDispose]();
      await deleteKeys(prefix);
    }
  });

  test('--watch attaches to an existing workflow and replays it; a bad token exits 1 with one line', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(buddy);
    const events = await collect(ctx.client.watchPetCreation(created.traceId, created.streamToken));

    const other = await ctx.client.pets.create.mutate(max);
    const [run, forbidden, forged] = await Promise.all([
      runDemo(['--url', ctx.url, '--watch', created.traceId, '--token', created.streamToken]),
      runDemo([
        '--url',
        ctx.url,
        '--watch',
        created.traceId,
        '--token',
        other.streamToken,
        '--transport',
        'sse',
      ]),
      runDemo(['--url', ctx.url, '--watch', created.traceId, '--token', 'not-a-token']),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout.slice(0, events.length)).toEqual(events.map(plainLine));
    expect(run.stdout[events.length + 1]).toBe(`Buddy (pet ${created.pet.id}): dog, 12 months, healthy`);

    expect(forbidden.code).toBe(1);
    expect(forbidden.stdout).toEqual([]);
    expect(forbidden.stderr).toBe(
      'error: the stream token belongs to another workflow: The stream token belongs to another workflow\n',
    );

    expect(forged.code).toBe(1);
    expect(forged.stderr).toBe('error: the stream token was rejected: The stream token is malformed\n');
  });

  test('bad input exits 2 with one line naming each bad flag, and creates nothing', async () => {
    await using ctx = await startTestApp();
    const [run, unknown] = await Promise.all([
      runDemo(['--url', ctx.url, '--name', ' ', '--species', 'fish', '--age', 'old']),
      runDemo(['--url', ctx.url, '--colour', 'red']),
    ]);
    expect(run.code).toBe(2);
    expect(run.stdout).toEqual([]);
    expect(run.stderr.split('\n')).toHaveLength(2);
    expect(run.stderr).toMatch(/^error: invalid input: /);
    for (const flag of ['--name', '--species', '--age']) expect(run.stderr).toContain(`${flag}:`);
    expect((await ctx.client.pets.list.query()).items).toEqual([]);

    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("'--colour'");
  });

  test('no server at the address: exit 1 with one line saying how to start one', async () => {
    await using silent = await silentServer();
    const runs = await Promise.all([
      runDemo(['--url', REFUSED_URL]).then((run) => ({ run, url: REFUSED_URL })),
      runDemo(['--url', silent.url]).then((run) => ({ run, url: silent.url })),
      runDemo(['--url', silent.url, '--watch', UNKNOWN_TRACE_ID, '--token', 'v1.token']).then((run) => ({
        run,
        url: silent.url,
      })),
    ]);
    for (const { run, url } of runs) {
      expect(run.stdout).toEqual([]);
      expect(run.stderr).toBe(`error: no server at ${url}; start one with: npm start\n`);
      expect(run.code).toBe(1);
    }
  });
});

describe('npm run demo -- --treat', { timeout: 30_000 }, () => {
  test('creates Max, treats him: the wait is shown, the vet clears him, he is healthy; exit 0', async () => {
    await using ctx = await startTestApp();
    const run = await runDemo(['--url', ctx.url, '--treat', '--vet', 'clear', '--note', 'Lungs clear']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const start = run.stdout.findIndex((line) => line.startsWith('-- Treatment of Max started · trace '));
    const traceId = /trace ([0-9a-f]{32})$/.exec(run.stdout[start] ?? '')?.[1] ?? '';
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const petId = (await ctx.client.pets.list.query()).items[0]?.id;
    expect(run.stdout.slice(start + 1)).toEqual([
      '[treatment  started] Treatment started for Max',
      '[treatment  waiting] Waiting for a vet to clear Max ⧗ awaited: vetClearance, from the vet',
      "-- Vet's answer given: cleared (Lungs clear)",
      '[treatment  cleared] Vet cleared Max (Lungs clear)',
      '[treatment  finished] Treatment workflow finished for Max',
      '',
      `Max (pet ${petId}): dog, 24 months, healthy`,
      ...run.stdout.slice(start + 8),
    ]);
    expect(run.stdout[start + 8]).toBe('  symptoms       coughing');
    expect((await ctx.client.pets.get.query({ id: petId ?? '' })).status).toBe('healthy');
  });

  test('--vet cancel cancels the treatment while it waits; JSON lines end with the cancelled event and the pet', async () => {
    await using ctx = await startTestApp();
    const run = await runDemo(['--url', ctx.url, '--json', '--treat', '--vet', 'cancel']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.map(
      (line) => JSON.parse(line) as { type: string; event?: { kind: string; data: unknown } },
    );
    const treatment = lines
      .filter((line) => line.type === 'treatment')
      .map((line) => [line.event?.kind, line.event?.data]);
    expect(treatment).toEqual([
      ['set', { message: 'Treatment started for Max', stage: 'started' }],
      [
        'set',
        {
          message: 'Waiting for a vet to clear Max',
          stage: 'waiting',
          awaiting: 'vetClearance',
          awaitedBy: 'vet',
        },
      ],
      ['cancelled', { message: 'Treatment workflow for Max was cancelled', stage: 'finished' }],
    ]);
    expect(lines.at(-1)).toMatchObject({ type: 'pet', pet: { name: 'Max', status: 'ill' } });
  });
});
