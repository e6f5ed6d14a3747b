/**
 * `npm run demo`: creates a pet from flags (the seed's Max without any), or
 * attaches to a running workflow, and shows its stream live through the
 * client library, resuming after connection loss, then prints the finished
 * pet. `--help` for usage.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';

import { TRPCClientError } from '@trpc/client';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

import type { AppRouter } from '../server/app/pet-shelter/app-router.js';
import { createDeferred } from '../shared/deferred.js';
import { createPetClient, WatchError, type PetClient } from './create-client.js';
import { demoOptions, DEMO_USAGE, UsageError, type DemoOptions, type VetChoice } from './demo-options.js';
import { treat } from './demo-treatment.js';
import { humanView, jsonView, type DemoView } from './demo-view.js';

/** Failed attempts in a row before the demo gives up: with the default backoff, about two minutes. */
const MAX_RETRIES = 20;

const EXIT = { finished: 0, error: 1, usage: 2, interrupted: 130 } as const;

async function main(argv: readonly string[]): Promise<number> {
  let options: DemoOptions;
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        name: { type: 'string' },
        species: { type: 'string' },
        age: { type: 'string' },
        symptom: { type: 'string', multiple: true },
        weight: { type: 'string' },
        url: { type: 'string' },
        transport: { type: 'string' },
        watch: { type: 'string' },
        token: { type: 'string' },
        'api-key': { type: 'string' },
        treat: { type: 'boolean' },
        vet: { type: 'string' },
        note: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(`${DEMO_USAGE}\n`);
      return EXIT.finished;
    }
    options = demoOptions(values);
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error), EXIT.usage);
  }

  const write = (text: string) => void process.stdout.write(text);
  const view = options.json
    ? jsonView(write)
    : humanView({
        write,
        terminal: Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'],
        columns: process.stdout.columns,
      });
  const client = createPetClient({
    url: options.url,
    transport: options.transport,
    // Node 20 has neither class globally; the library takes them as options.
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    EventSource,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
  });
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort();
  process.once('SIGINT', onSigint);
  const stall = stalled();
  try {
    const finished = await Promise.race([run(client, options, view, interrupted.signal), stall.promise]);
    return finished ? EXIT.finished : EXIT.interrupted;
  } catch (error) {
    const failure = describeFailure(error, options.url);
    return fail(failure.message, failure.exitCode);
  } finally {
    process.off('SIGINT', onSigint);
    stall.cancel();
    await client.close();
  }
}

/** The demo waits for an answer that nothing will ever bring. */
class Stalled extends Error {
  override readonly name = 'Stalled';
}

/**
 * Rejects with Stalled when Node runs out of work while the demo still waits.
 * Node 20's fetch can leave a call pending forever when the server closes the
 * connection at once; Node would then exit with code 13 and not a word.
 */
function stalled(): { readonly promise: Promise<never>; readonly cancel: () => void } {
  const deferred = createDeferred<never>();
  const onBeforeExit = () => deferred.reject(new Stalled('no answer'));
  process.once('beforeExit', onBeforeExit);
  return { promise: deferred.promise, cancel: () => process.off('beforeExit', onBeforeExit) };
}

/** Runs the workflow to its end; false when interrupted first. */
async function run(
  client: PetClient,
  options: DemoOptions,
  view: DemoView,
  signal: AbortSignal,
): Promise<boolean> {
  let traceId: string;
  let token: string;
  let petId: string | null = null;
  if (options.task.kind === 'create') {
    const created = await client.pets.create.mutate(options.task.pet);
    view.created(created);
    ({ traceId, streamToken: token } = created);
    petId = created.pet.id;
  } else {
    // Fails at once, with a clear message, when the server is down.
    await client.pets.list.query({ limit: 1 });
    ({ traceId, token } = options.task);
  }

  let finished = false;
  const watch = client.watchPetCreation(traceId, token, {
    signal,
    onStateChange: view.state,
    maxRetries: MAX_RETRIES,
  });
  for await (const event of watch) {
    view.event(event);
    petId ??= petIdOf(event.data?.message);
    finished = event.kind === 'finished';
  }
  if (!finished) return false;
  if (petId === null) return true;
  const pet = await client.pets.get.query({ id: petId });
  view.pet(pet);
  if (options.task.kind !== 'create' || !options.task.treatment) return true;
  const { vet, note } = options.task.treatment;
  const ask = process.stdin.isTTY && !options.json ? askVet : null;
  return treat({ client, view, signal }, pet, { vet, note, ask, maxRetries: MAX_RETRIES });
}

const ANSWERS: Readonly<Record<string, VetChoice>> = { c: 'clear', k: 'keep', x: 'cancel' };

/** Asks on the terminal until the answer is one of the three. */
async function askVet(name: string, signal: AbortSignal): Promise<VetChoice> {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for (;;) {
      const answer = await prompt.question(`Vet for ${name}: [c]lear, [k]eep in treatment, or [x] cancel? `, {
        signal,
      });
      const choice = ANSWERS[answer.trim().toLowerCase().slice(0, 1)];
      if (choice) return choice;
    }
  } finally {
    prompt.close();
  }
}

/** The pet id in the workflow's first message: `Pet Max (ID: 1) created successfully - ...`. */
function petIdOf(message: string | undefined): string | null {
  return /^Pet .+ \(ID: ([^)]+)\) created successfully/.exec(message ?? '')?.[1] ?? null;
}

function describeFailure(
  error: unknown,
  url: string,
): { readonly message: string; readonly exitCode: number } {
  if (error instanceof UsageError) return { message: error.message, exitCode: EXIT.usage };
  if (error instanceof Stalled) return { message: noServer(url), exitCode: EXIT.error };
  if (error instanceof WatchError) {
    const messages: Record<WatchError['code'], string> = {
      UNAUTHORIZED: `the stream token was rejected: ${error.message}`,
      FORBIDDEN: `the stream token belongs to another workflow: ${error.message}`,
      NOT_FOUND: `${error.message} (without Redis, a restarted server has forgotten its workflows)`,
      BAD_REQUEST: `the server refused the subscription: ${error.message}`,
      UNREACHABLE: `lost the server at ${url}: ${error.message}`,
    };
    return { message: messages[error.code], exitCode: EXIT.error };
  }
  if (error instanceof TRPCClientError) {
    const code = (error as TRPCClientError<AppRouter>).data?.code;
    if (code === 'BAD_REQUEST') return { message: `invalid input: ${error.message}`, exitCode: EXIT.usage };
    if (code) return { message: `${code}: ${error.message}`, exitCode: EXIT.error };
    // No answer at all: what a newcomer sees before starting the server.
    if (networkCode(error) !== null) return { message: noServer(url), exitCode: EXIT.error };
    return { message: `unexpected answer from ${url}: ${error.message}`, exitCode: EXIT.error };
  }
  return { message: error instanceof Error ? error.message : String(error), exitCode: EXIT.error };
}

const noServer = (url: string) => `no server at ${url}; start one with: npm start`;

/** The system error code (ECONNREFUSED, ...) somewhere down the cause chain. */
function networkCode(error: unknown): string | null {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; depth += 1) {
    const code = (cause as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cause = cause.cause;
  }
  return null;
}

function fail(message: string, exitCode: number): number {
  process.stderr.write(`error: ${message}\n`);
  return exitCode;
}

// Output piped into a program that stops reading (`| head`) is not an error of the demo.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = await main(process.argv.slice(2));
