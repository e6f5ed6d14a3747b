/**
 * Micro-benchmark of WebSocket fan-out: N events to 1,000 subscribers of one
 * source over loopback, on
 * - `ours`: our tRPC protocol server (server/engine/transport/ws) with a Pushable source,
 * - `ours-pull`: the same server pulling an async generator (tRPC's documented style),
 * - `ws`: a raw `ws` server sending each event's pre-built frame (the same bytes) to every socket,
 * - `trpc`: tRPC's own adapter (applyWSSHandler) with an async generator.
 * The server runs in this process, the clients in a child process; servers
 * are alternated round by round. Reported: deliveries/s and server CPU per
 * delivery, with ratios to raw ws (goals: ≥ 0.9× throughput, ≤ 1.2× CPU).
 *
 *   npx tsx test/bench/ws-protocol-micro.ts [--subscribers=1000] [--events=200] [--rounds=5]
 *     [--servers=ours,ours-pull,ws,trpc] [--distinct-ids]
 * `--distinct-ids` gives each subscription another request id, so that no
 * two subscribers of ours get the same frame text (the worst case for it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, on } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { initTRPC, tracked, type TrackedEnvelope } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import WebSocket, { WebSocketServer } from 'ws';

import { createWsProtocolServer } from '../../server/engine/transport/ws/index.js';
import { transformer } from '../../shared/transformer.js';
import { Feed } from '../engine/support/feed.js';

const KINDS = ['ours', 'ours-pull', 'ws', 'trpc'] as const;
type Kind = (typeof KINDS)[number];

type Event = { readonly message: string; readonly stage: 'feeding'; readonly progress: number };

/** A tRPC client numbers its requests from 1 on each connection: its first subscription is id 1. */
const subscribeTrpc = (id: number) =>
  JSON.stringify({ id, method: 'subscription', params: { path: 'feed', input: transformer.serialize(undefined) } });
const SUBSCRIBE_RAW = JSON.stringify({ sub: 'feed' });

/** About 150 bytes of JSON, as in `npm run bench`. */
function makeEvent(n: number): Event {
  return { message: `n=${n};${'x'.repeat(100)}`, stage: 'feeding', progress: 50 };
}

/** The frame tRPC sends for tracked event `n` of subscription 1 (what the raw server sends as it is). */
function trpcFrame(n: number, event: Event): string {
  const id = String(n);
  return JSON.stringify({
    id: 1,
    result: { type: 'data', data: transformer.serialize({ id, data: event }), id },
  });
}

type Server = {
  readonly url: string;
  readonly publish: (n: number) => void;
  readonly close: () => Promise<void>;
};

async function startServer(kind: Kind): Promise<Server> {
  const httpServer = http.createServer();
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const feed = new Feed<Event>();
  const t = initTRPC.create({ transformer, isDev: false });
  async function* generate(signal: AbortSignal | undefined) {
    for await (const [n, event] of on(emitter, 'event', { signal })) yield tracked(String(n), event as Event);
  }
  // `ours` returns the feed's subscription, which our server pushes; the others run the generator.
  const source = (signal: AbortSignal | undefined): AsyncIterable<TrackedEnvelope<Event>> =>
    kind === 'ours' ? feed.subscribe() : generate(signal);
  const router = t.router({ feed: t.procedure.subscription(({ signal }) => source(signal)) });
  let close: () => Promise<void>;
  let publish: (n: number) => void;
  if (kind === 'ours' || kind === 'ours-pull') {
    const ws = createWsProtocolServer({ router, transformer, pingMs: 0, maxBufferedBytes: 64 * 1024 * 1024 });
    httpServer.on('upgrade', (req, socket, head) => ws.handleUpgrade(req, socket, head));
    publish = kind === 'ours' ? (n) => feed.publish(String(n), makeEvent(n)) : (n) => emitter.emit('event', n, makeEvent(n));
    close = () => ws.close({ graceMs: 0 });
  } else if (kind === 'trpc') {
    const wss = new WebSocketServer({ server: httpServer });
    applyWSSHandler({ wss, router });
    publish = (n) => emitter.emit('event', n, makeEvent(n));
    close = () => closeWss(wss);
  } else {
    const wss = new WebSocketServer({ server: httpServer });
    const subscribers = new Set<WebSocket>();
    wss.on('connection', (socket) => {
      socket.on('message', (raw: Buffer) => {
        if (raw.toString() !== SUBSCRIBE_RAW) return;
        subscribers.add(socket);
        socket.send('ok');
      });
      socket.on('close', () => subscribers.delete(socket));
    });
    publish = (n) => {
      const frame = trpcFrame(n, makeEvent(n));
      for (const socket of subscribers) socket.send(frame);
    };
    close = () => closeWss(wss);
  }
  const port = await new Promise<number>((resolve) =>
    httpServer.listen(0, '127.0.0.1', () => resolve((httpServer.address() as AddressInfo).port)),
  );
  return {
    url: `ws://127.0.0.1:${port}`,
    publish,
    close: async () => {
      await close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

async function closeWss(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

// ---- the client process ----

type ToClient =
  | {
      readonly type: 'connect';
      readonly url: string;
      readonly kind: Kind;
      readonly count: number;
      readonly events: number;
      readonly distinctIds: boolean;
    }
  | { readonly type: 'close' };
type FromClient = { readonly type: 'ready' } | { readonly type: 'done'; readonly errors: number } | { readonly type: 'closed' };

function runClients(): void {
  let sockets: WebSocket[] = [];
  const send = (message: FromClient) => process.send?.(message);
  process.on('message', (message: ToClient) => {
    if (message.type === 'close') {
      for (const socket of sockets) socket.terminate();
      sockets = [];
      send({ type: 'closed' });
      return;
    }
    const { url, kind, count, events, distinctIds } = message;
    let ready = 0;
    let done = 0;
    let errors = 0;
    for (let i = 0; i < count; i += 1) {
      const socket = new WebSocket(url, { perMessageDeflate: false });
      let received = -1;
      const id = distinctIds ? i + 1 : 1;
      socket.on('open', () => socket.send(kind === 'ws' ? SUBSCRIBE_RAW : subscribeTrpc(id)));
      socket.on('message', (raw: Buffer) => {
        received += 1;
        if (received === 0) {
          if ((ready += 1) === count) send({ type: 'ready' });
          return;
        }
        // Every event once, in order.
        if (!raw.toString().includes(`"id":"${received}"}}`)) errors += 1;
        if (received === events && (done += 1) === count) send({ type: 'done', errors });
      });
      socket.on('error', () => (errors += 1));
      sockets.push(socket);
    }
  });
}

// ---- the benchmark ----

class ClientProcess {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<FromClient['type'], (message: FromClient) => void>();

  constructor() {
    this.#child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--clients'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (message: FromClient) => this.#waiting.get(message.type)?.(message));
  }

  /** The next message of this type. */
  next<T extends FromClient['type']>(type: T): Promise<Extract<FromClient, { type: T }>> {
    return new Promise((resolve) => {
      this.#waiting.set(type, (answer) => resolve(answer as Extract<FromClient, { type: T }>));
    });
  }

  request<T extends FromClient['type']>(message: ToClient, reply: T): Promise<Extract<FromClient, { type: T }>> {
    const answer = this.next(reply);
    this.#child.send(message);
    return answer;
  }

  stop(): void {
    this.#child.kill();
  }
}

type Measure = { readonly deliveriesPerSecond: number; readonly cpuMicrosPerDelivery: number };

type Run = { readonly subscribers: number; readonly events: number; readonly distinctIds: boolean };

async function measure(clients: ClientProcess, kind: Kind, run: Run): Promise<Measure> {
  const { subscribers, events } = run;
  const server = await startServer(kind);
  await clients.request({ type: 'connect', url: server.url, kind, count: subscribers, ...run }, 'ready');
  const done = clients.next('done');
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let n = 1; n <= events; n += 1) {
    server.publish(n);
    // One event per turn of the event loop, as events arrive from storage.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const { errors } = await done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  if (errors > 0) throw new Error(`${kind}: ${errors} deliveries out of order or failed`);
  await clients.request({ type: 'close' }, 'closed');
  await server.close();
  const deliveries = subscribers * events;
  return { deliveriesPerSecond: deliveries / seconds, cpuMicrosPerDelivery: (used.user + used.system) / deliveries };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '1000' },
      events: { type: 'string', default: '200' },
      rounds: { type: 'string', default: '5' },
      servers: { type: 'string', default: KINDS.join(',') },
      'distinct-ids': { type: 'boolean', default: false },
    },
  });
  const kinds = KINDS.filter((kind) => values.servers.split(',').includes(kind));
  if (!kinds.includes('ws')) throw new TypeError('Expected `--servers` to include `ws`, the baseline');
  const subscribers = Number(values.subscribers);
  const events = Number(values.events);
  const rounds = Number(values.rounds);
  for (const [name, value] of Object.entries({ subscribers, events, rounds })) {
    if (!Number.isInteger(value) || value < 1) throw new TypeError(`Expected \`--${name}\` to be an integer >= 1`);
  }
  const clients = new ClientProcess();
  const results = new Map<Kind, Measure[]>(kinds.map((kind) => [kind, []]));
  try {
    // A warm-up round, not counted.
    const run: Run = { subscribers, events, distinctIds: values['distinct-ids'] };
    for (const kind of kinds) await measure(clients, kind, { ...run, events: Math.min(events, 20) });
    for (let round = 0; round < rounds; round += 1) {
      // Alternated: each round starts with another server.
      const order = kinds.map((_, i) => kinds[(i + round) % kinds.length] ?? 'ws');
      for (const kind of order) results.get(kind)?.push(await measure(clients, kind, run));
    }
  } finally {
    clients.stop();
  }
  const raw = results.get('ws') ?? [];
  const rawRate = median(raw.map((m) => m.deliveriesPerSecond));
  const rawCpu = median(raw.map((m) => m.cpuMicrosPerDelivery));
  console.log(
    `Fan-out of ${events} events to ${subscribers} subscribers${values['distinct-ids'] ? ' (a distinct request id each)' : ''}, ${rounds} rounds (medians; Node ${process.version})`,
  );
  console.log('server       deliveries/s  ×raw ws   CPU µs/delivery  ×raw ws');
  for (const kind of kinds) {
    const runs = results.get(kind) ?? [];
    const rate = median(runs.map((m) => m.deliveriesPerSecond));
    const cpu = median(runs.map((m) => m.cpuMicrosPerDelivery));
    console.log(
      `${kind.padEnd(12)} ${Math.round(rate).toLocaleString('en').padStart(12)}  ${(rate / rawRate).toFixed(2).padStart(6)}×  ${cpu.toFixed(2).padStart(15)}  ${(cpu / rawCpu).toFixed(2).padStart(6)}×`,
    );
  }
}

if (process.argv.includes('--clients')) runClients();
else await main();
