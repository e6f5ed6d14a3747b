/**
 * Soak: a steady mixed load against a real server started in this process,
 * on loopback only, for SOAK_SECONDS (default 60). Pets are created at a
 * steady rate; each workflow is watched live by two clients (WebSocket, and
 * one in four over SSE), some by a late subscriber replaying history, while
 * WebSockets are cut at random. Reports memory at start and end, events lost
 * or duplicated (exits 1 unless both are 0) and p99 latencies.
 *
 *   npm run soak
 *   SOAK_SECONDS=300 SOAK_RATE=50 npm run soak
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';

import { EventSource } from 'eventsource';
import WebSocket from 'ws';

import { createPetClient, type PetClient } from '../client/create-client.js';
import { shelter } from '../server/app/pet-shelter/application.js';
import { createServer } from '../server/engine/create-server.js';
import { loadConfig } from '../server/engine/config.js';
import { createLogger } from '../server/engine/log.js';
import type { PetInput } from '../shared/pet.js';
import type { PetCreationEvent } from '../shared/pet-creation.js';

type Knobs = {
  readonly seconds: number;
  readonly rate: number;
  readonly clients: number;
  readonly cutEveryMs: number;
};

function knob(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return value;
}

const knobs: Knobs = {
  seconds: knob('SOAK_SECONDS', 60, 1),
  rate: knob('SOAK_RATE', 20, 1),
  clients: knob('SOAK_CLIENTS', 16, 2),
  cutEveryMs: knob('SOAK_CUT_EVERY_MS', 1000, 0),
};
/** Workflows in flight at most: the load stays steady instead of piling up. */
const MAX_IN_FLIGHT = knobs.rate * 10;
/** A watch that has not ended by then counts its missing events as lost. */
const WATCH_TIMEOUT_MS = 30_000;

const PETS: readonly PetInput[] = [
  { name: 'Max', species: 'dog', ageMonths: 24, symptoms: ['coughing'] },
  { name: 'Luna', species: 'cat', ageMonths: 18, symptoms: ['sneezing', 'watery eyes'] },
  { name: 'Buddy', species: 'dog', ageMonths: 12 },
];

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Integer-millisecond histogram: constant memory however long the run. */
class Histogram {
  readonly #counts = new Map<number, number>();
  #total = 0;
  #max = 0;

  add(ms: number): void {
    const bucket = Math.max(0, Math.round(ms));
    this.#counts.set(bucket, (this.#counts.get(bucket) ?? 0) + 1);
    this.#total += 1;
    this.#max = Math.max(this.#max, bucket);
  }

  reset(): void {
    this.#counts.clear();
    this.#total = 0;
    this.#max = 0;
  }

  get count(): number {
    return this.#total;
  }

  quantile(q: number): number {
    const rank = Math.ceil(q * this.#total);
    let seen = 0;
    for (const bucket of [...this.#counts.keys()].sort((a, b) => a - b)) {
      seen += this.#counts.get(bucket) ?? 0;
      if (seen >= rank) return bucket;
    }
    return this.#max;
  }

  summary(): string {
    return `p50 ${this.quantile(0.5)} ms, p99 ${this.quantile(0.99)} ms, max ${this.#max} ms (n=${this.#total})`;
  }
}

function memory(): { readonly heapMiB: number; readonly rssMiB: number } {
  gc();
  gc();
  const usage = process.memoryUsage();
  return { heapMiB: usage.heapUsed / 2 ** 20, rssMiB: usage.rss / 2 ** 20 };
}

const mib = (value: number) => `${value.toFixed(1)} MiB`;

async function main(): Promise<void> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // Loopback only: no model, the fallback profile is written.
    OPENAI_API_KEY: '',
    FEEDING_CHECK_DELAY_MS: '50',
    // Short retention, so that memory reaches a steady state within the run.
    STREAM_RETENTION_MS: '10000',
    RATE_LIMIT_CREATE_PER_MINUTE: '0',
    STREAM_TOKEN_SECRET: randomBytes(32).toString('base64url'),
  });
  const logCounts = { warn: 0, error: 0, slowConsumers: 0 };
  const log = createLogger({
    level: 'warn',
    destination: {
      write: (line: string) => {
        const parsed = JSON.parse(line) as { level: number; msg: string };
        if (parsed.level >= 50) logCounts.error += 1;
        else logCounts.warn += 1;
        if (parsed.msg.includes('Slow consumer')) logCounts.slowConsumers += 1;
      },
    },
  });
  const app = createServer(config, log, shelter);
  const { port } = await app.listen();
  const url = `http://127.0.0.1:${port}`;
  const storage = app.engine.backends.streamStorage;

  const wsSockets = new Set<Socket>();
  app.server.on('upgrade', (_req, socket: Socket) => {
    wsSockets.add(socket);
    socket.once('close', () => wsSockets.delete(socket));
  });

  const clients: PetClient[] = Array.from({ length: knobs.clients }, (_, i) =>
    createPetClient({
      url,
      transport: i % 4 === 3 ? 'sse' : 'ws',
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      EventSource,
      retryDelayMs: () => 50,
    }),
  );
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
  const client = (): PetClient => {
    const chosen = pick(clients);
    if (!chosen) throw new Error('no client');
    return chosen;
  };

  const createLatency = new Histogram();
  const deliveryLatency = new Histogram();
  const totals = {
    workflows: 0,
    failedCreates: 0,
    watches: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    cuts: 0,
  };

  /** One watch: events in order, each once; returns them (or what came before the timeout). */
  const watch = async (
    watcher: PetClient,
    traceId: string,
    token: string,
    live: boolean,
  ): Promise<PetCreationEvent[]> => {
    const events: PetCreationEvent[] = [];
    const signal = AbortSignal.timeout(WATCH_TIMEOUT_MS);
    try {
      for await (const event of watcher.watchPetCreation(traceId, token, { signal })) {
        // The first event was written before anyone could subscribe.
        if (live && events.length > 0) deliveryLatency.add(Date.now() - Date.parse(event.time));
        events.push(event);
      }
    } catch {
      // Counted below as lost events.
    }
    return events;
  };

  const check = (expected: readonly PetCreationEvent[], received: readonly PetCreationEvent[]) => {
    totals.watches += 1;
    totals.delivered += received.length;
    const ids = received.map((e) => e.eventId);
    const unique = new Set(ids);
    totals.duplicated += ids.length - unique.size;
    totals.lost += expected.filter((e) => !unique.has(e.eventId)).length;
    for (let i = 1; i < ids.length; i += 1) if (Number(ids[i]) <= Number(ids[i - 1])) totals.outOfOrder += 1;
  };

  const workflow = async () => {
    const started = performance.now();
    let created;
    try {
      created = await client().pets.create.mutate(
        pick(PETS) ?? { name: 'Rex', species: 'dog', ageMonths: 3 },
      );
    } catch (error) {
      totals.failedCreates += 1;
      if (totals.failedCreates === 1) process.stderr.write(`First failed create: ${String(error)}\n`);
      return;
    }
    createLatency.add(performance.now() - started);
    const { traceId, streamToken } = created;
    const lists = await Promise.all([
      watch(client(), traceId, streamToken, true),
      watch(client(), traceId, streamToken, true),
    ]);
    // Some subscribers come late and replay the whole history.
    if (Math.random() < 0.2) lists.push(await watch(client(), traceId, streamToken, false));
    // What `petCreation.onUpdate` delivers: the workflow's `petCreation` events, its other streams left out.
    const expected = (await storage.readAfter(traceId, null)).events.filter(
      (event) => event.stream === 'petCreation',
    ) as PetCreationEvent[];
    for (const list of lists) check(expected, list);
    totals.workflows += 1;
  };

  // Warm-up, then the starting point.
  await Promise.all(Array.from({ length: 20 }, workflow));
  Object.assign(totals, { workflows: 0, watches: 0, delivered: 0, cuts: 0 });
  createLatency.reset();
  deliveryLatency.reset();
  const start = memory();
  const startedAt = performance.now();
  const deadline = startedAt + knobs.seconds * 1000;
  process.stdout.write(
    `Soak: ${knobs.seconds} s, ${knobs.rate} workflows/s, ${knobs.clients} clients, a WebSocket cut every ${knobs.cutEveryMs || '∞'} ms\n`,
  );

  const inFlight = new Set<Promise<void>>();
  const cutter =
    knobs.cutEveryMs > 0
      ? setInterval(() => {
          const victim = pick([...wsSockets]);
          if (victim) {
            victim.destroy();
            totals.cuts += 1;
          }
        }, knobs.cutEveryMs)
      : undefined;
  const reporter = setInterval(() => {
    const seconds = Math.round((performance.now() - startedAt) / 1000);
    process.stdout.write(
      `  ${seconds} s: ${totals.workflows} workflows, ${totals.delivered} events, lost ${totals.lost}, in flight ${inFlight.size}, heap ${mib(process.memoryUsage().heapUsed / 2 ** 20)}\n`,
    );
  }, 10_000);

  const interval = 1000 / knobs.rate;
  for (let next = performance.now(); next < deadline; next += interval) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight.size >= MAX_IN_FLIGHT) continue;
    const run = workflow().finally(() => inFlight.delete(run));
    inFlight.add(run);
  }
  clearInterval(cutter);
  clearInterval(reporter);
  await Promise.all(inFlight);
  const elapsed = (performance.now() - startedAt) / 1000;

  await Promise.all(clients.map((c) => c.close()));
  // Let retention drop what the run left behind, so end and start compare like for like.
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const end = memory();
  const listeners = storage.listenerCount();
  await app.close();

  const report = [
    '',
    `Ran ${elapsed.toFixed(1)} s: ${totals.workflows} workflows (${(totals.workflows / elapsed).toFixed(1)}/s), ${totals.watches} watches, ${totals.delivered} events delivered, ${totals.cuts} WebSockets cut`,
    `Events lost: ${totals.lost}   duplicated: ${totals.duplicated}   out of order: ${totals.outOfOrder}   failed creates: ${totals.failedCreates}`,
    `Create latency:   ${createLatency.summary()}`,
    `Event latency:    ${deliveryLatency.summary()} (write to delivery, live subscribers)`,
    `Memory at start:  heap ${mib(start.heapMiB)}, rss ${mib(start.rssMiB)}`,
    `Memory at end:    heap ${mib(end.heapMiB)}, rss ${mib(end.rssMiB)} (after retention expired)`,
    `Stream listeners left: ${listeners}   slow consumers cut: ${logCounts.slowConsumers}   warnings: ${logCounts.warn}   errors: ${logCounts.error}`,
    '',
  ];
  process.stdout.write(report.join('\n'));
  const ok =
    totals.lost === 0 && totals.duplicated === 0 && totals.outOfOrder === 0 && totals.failedCreates === 0;
  process.exitCode = ok ? 0 : 1;
}

await main();
