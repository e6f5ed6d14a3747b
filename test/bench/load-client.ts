/**
 * The load client, in its own process: it opens the connections, subscribes,
 * receives, checks and timestamps every delivery, and drives the
 * end-to-end workflow and `pets.create` scenarios with the product's client.
 */
import { createTRPCClient, createWSClient, httpLink, splitLink, wsLink } from '@trpc/client';

import type { AppRouter } from '../../server/app/pet-shelter/app-router.js';
import type { PetCreationEvent } from '../../shared/pet-creation.js';
import type { PetInput } from '../../shared/pet.js';
import { TraceIdSchema } from '../../shared/trace-id.js';
import { transformer } from '../../shared/transformer.js';
import { NodeWebSocket } from '../support/test-app.js';
import { connectBareTrpc } from './clients/bare-trpc-connection.js';
import type { BenchConnection } from './clients/bench-connection.js';
import { connectOurs } from './clients/our-connection.js';
import { connectRawWs } from './clients/raw-ws-connection.js';
import { openTrpcWsClient } from './clients/trpc-ws-client.js';
import { connectSocketIo } from './clients/socket-io-connection.js';
import { now } from './clock.js';
import { DeliveryTracker } from './delivery-tracker.js';
import { serve } from './ipc.js';
import type { BenchGroup, DeliveryServerKind } from './servers/bench-server.js';
import { quantile } from './stats.js';
import { workflowProblem } from './workflow-check.js';

/** Connections opened at once: a burst of thousands of handshakes only measures the accept queue. */
const CONNECT_CONCURRENCY = 100;
const RESULT_TIMEOUT_MS = 120_000;

const CONNECTORS: Record<DeliveryServerKind, (url: string) => Promise<BenchConnection>> = {
  ours: connectOurs,
  ws: connectRawWs,
  socketio: connectSocketIo,
  trpc: connectBareTrpc,
};

type Session = { readonly connections: BenchConnection[]; tracker?: DeliveryTracker };
const sessions = new Map<string, Session>();

function session(key: string): Session {
  const found = sessions.get(key);
  if (!found) throw new Error(`no connections under ${key}`);
  return found;
}

async function inBatches<T>(count: number, batch: number, make: (index: number) => Promise<T>): Promise<T[]> {
  const made: T[] = [];
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    made.push(...(await Promise.all(Array.from({ length: size }, (_, i) => make(start + i)))));
  }
  return made;
}

async function connect(args: { key: string; kind: DeliveryServerKind; url: string; count: number }) {
  const started = now();
  const connections = await inBatches(args.count, CONNECT_CONCURRENCY, () => CONNECTORS[args.kind](args.url));
  sessions.set(args.key, { connections });
  return { ms: now() - started };
}

/**
 * Subscribes every connection: all to the first group (fan-out) or
 * connection i to group i. Resolves once the server acknowledged them all.
 */
async function subscribe(args: { key: string; groups: readonly BenchGroup[]; fanOut: boolean; events: number }) {
  const { connections } = session(args.key);
  if (!args.fanOut && args.groups.length !== connections.length) {
    throw new Error(`${args.groups.length} groups for ${connections.length} connections`);
  }
  const tracker = new DeliveryTracker(connections.length, args.events);
  await inBatches(connections.length, CONNECT_CONCURRENCY * 5, async (i) => {
    const group = args.fanOut ? args.groups[0] : args.groups[i];
    const connection = connections[i];
    if (!group || !connection) throw new Error(`no group or connection ${i}`);
    const label = `connection ${i}`;
    await connection.subscribe(group, tracker.receiver(label), (message) => tracker.error(`${label}: ${message}`));
  });
  tracker.arm();
  session(args.key).tracker = tracker;
  return null;
}

async function results(args: { key: string }) {
  const { tracker } = session(args.key);
  if (!tracker) throw new Error(`nothing subscribed under ${args.key}`);
  return tracker.result(RESULT_TIMEOUT_MS);
}

async function close(args: { key: string }) {
  for (const connection of sessions.get(args.key)?.connections ?? []) connection.close();
  sessions.delete(args.key);
  return null;
}

const PETS: readonly PetInput[] = [
  { name: 'Buddy', species: 'dog', ageMonths: 12 },
  { name: 'Max', species: 'dog', ageMonths: 24, symptoms: ['coughing'] },
  { name: 'Luna', species: 'cat', ageMonths: 18, symptoms: ['sneezing', 'watery eyes'] },
];
const pet = (i: number): PetInput => PETS[i % PETS.length] ?? { name: 'Buddy', species: 'dog', ageMonths: 12 };

/**
 * `count` workflows, `inFlight` at a time, through one client as an
 * application would hold it: `pets.create` over HTTP, then the workflow's
 * `petCreation.onUpdate` over the client's one WebSocket until its finished
 * event. Every workflow's events are checked; the latency is create → finished.
 */
async function workflows(args: { url: string; count: number; inFlight: number }) {
  // Drops (a slow consumer cut off, say) are resumed by the link from the last event id: counted, not hidden.
  let drops = 0;
  const wsClient = createWSClient({
    url: `${args.url.replace(/^http/, 'ws')}/trpc`,
    WebSocket: NodeWebSocket,
    onClose: () => (drops += 1),
  });
  const trpc = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: wsLink<AppRouter>({ client: wsClient, transformer }),
        false: httpLink({ url: `${args.url}/trpc`, transformer }),
      }),
    ],
  });
  const latencies: number[] = [];
  const createLatencies: number[] = [];
  const errors: string[] = [];
  let events = 0;
  let next = 0;
  const cpuMark = process.cpuUsage();
  const startedAt = now();
  async function one(i: number) {
    const input = pet(i);
    const sent = now();
    const created = await trpc.pets.create.mutate(input);
    createLatencies.push(now() - sent);
    const received: PetCreationEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      trpc.petCreation.onUpdate.subscribe(
        { traceId: TraceIdSchema.parse(created.traceId), token: created.streamToken },
        { onData: (envelope) => received.push(envelope.data), onComplete: resolve, onError: reject },
      );
    });
    latencies.push(now() - sent);
    events += received.length;
    const problem = workflowProblem(received, input);
    if (problem) errors.push(`workflow ${i}: ${problem}`);
  }
  await Promise.all(
    Array.from({ length: Math.min(args.inFlight, args.count) }, async () => {
      while (next < args.count) {
        const i = next;
        next += 1;
        await one(i).catch((error: unknown) => errors.push(`workflow ${i}: ${error instanceof Error ? error.message : String(error)}`));
      }
    }),
  );
  const ms = now() - startedAt;
  const cpu = process.cpuUsage(cpuMark);
  const closedBefore = drops;
  await wsClient.close();
  return {
    workflows: args.count,
    drops: closedBefore,
    events,
    ms,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    /** The create call alone: how much of the time to the end is the answer to `pets.create`. */
    createP99Ms: quantile(createLatencies, 0.99),
    clientCpuUs: cpu.user + cpu.system,
    errors: errors.slice(0, 20),
  };
}

type CreateClient = { readonly create: (input: PetInput) => Promise<unknown>; readonly close: () => void };

async function createClient(url: string, transport: 'http' | 'ws'): Promise<CreateClient> {
  if (transport === 'http') {
    const trpc = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${url}/trpc`, transformer })] });
    return { create: (input) => trpc.pets.create.mutate(input), close: () => {} };
  }
  const { trpc, close } = await openTrpcWsClient<AppRouter>(`${url.replace(/^http/, 'ws')}/trpc`);
  return { create: (input) => trpc.pets.create.mutate(input), close };
}

/** `total` creates from `concurrency` callers, each waiting for its answer before the next. */
async function creates(args: { url: string; transport: 'http' | 'ws'; total: number; concurrency: number }) {
  const clients = await Promise.all(Array.from({ length: args.concurrency }, () => createClient(args.url, args.transport)));
  const latencies = new Float64Array(args.total);
  const errors: string[] = [];
  let issued = 0;
  let done = 0;
  const startedAt = now();
  await Promise.all(
    clients.map(async (client) => {
      while (issued < args.total) {
        const i = issued;
        issued += 1;
        const sent = now();
        try {
          await client.create(pet(i));
          latencies[done] = now() - sent;
          done += 1;
        } catch (error) {
          errors.push(`create ${i}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }),
  );
  const ms = now() - startedAt;
  for (const client of clients) client.close();
  const measured = latencies.subarray(0, done);
  return {
    creates: done,
    ms,
    p50Ms: quantile(measured, 0.5),
    p99Ms: quantile(measured, 0.99),
    errors: errors.slice(0, 20),
  };
}

export const loadClientHandlers = { connect, subscribe, results, close, workflows, creates };
export type LoadClientHandlers = typeof loadClientHandlers;

serve(loadClientHandlers);
