/**
 * The scenarios. Each starts fresh server processes, alternates the servers
 * round by round (A B … then … B A, so drift over the run cancels) and
 * checks every delivery.
 */
import { now } from './clock.js';
import type { Peer } from './ipc.js';
import type { LoadClientHandlers } from './load-client.js';
import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';

import { deleteKeys } from '../support/redis.js';
import { startLoadClient, startServerProcess, type ProcessOptions, type ServerProcessOptions } from './processes.js';
import { redisDelta, sampleRedis } from './redis-stats.js';
import { startRoundTripCounter } from './redis-round-trips.js';
import { BenchFailure, type Metrics, type Row } from './results.js';
import type { ServerHandlers } from './server-process.js';
import { SERVER_LABELS, type DeliveryServerKind, type ServerKind } from './servers/bench-server.js';

export type BenchContext = {
  readonly modelUrl: string;
  /** The Redis the Redis-backed server uses (and whose CPU is read). */
  readonly redisUrl: string;
  readonly rounds: number;
  readonly processes: ProcessOptions;
  readonly log: (line: string) => void;
  /** A line for the results' notes (printed and written with the table). */
  readonly note: (line: string) => void;
};

/** Round r visits the servers in order, round r+1 in reverse. */
const order = <T>(items: readonly T[], round: number): readonly T[] => (round % 2 === 0 ? items : [...items].reverse());

/** Workflows or creates run before the measured rounds of those scenarios. */
const WARM_UP_OPERATIONS = 50;

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

function failIfErrors(what: string, errors: readonly string[]): void {
  if (errors.length > 0) throw new BenchFailure(`${what}:\n  ${errors.join('\n  ')}`);
}

async function startServers(ctx: BenchContext, kinds: readonly ServerKind[], options: Partial<ServerProcessOptions> = {}) {
  const servers = new Map<ServerKind, { peer: Peer<ServerHandlers>; url: string }>();
  await Promise.all(
    kinds.map(async (kind) => {
      const peer = startServerProcess(kind, { modelUrl: ctx.modelUrl, redisUrl: ctx.redisUrl, ...options }, ctx.processes);
      const port = await peer.call('listen', undefined);
      servers.set(kind, { peer, url: `http://127.0.0.1:${port}` });
    }),
  );
  const get = (kind: ServerKind) => {
    const server = servers.get(kind);
    if (!server) throw new Error(`server ${kind} not started`);
    return server;
  };
  return { get, stop: () => Promise.all([...servers.values()].map((s) => s.peer.stop())) };
}

export type DeliverySpec = {
  readonly scenario: string;
  readonly size: string;
  readonly kinds: readonly DeliveryServerKind[];
  readonly connections: number;
  /** One group for all connections, or one group per connection. */
  readonly fanOut: boolean;
  /** Events per group per trial. */
  readonly events: number;
  /** Paced writes (events per second per group); as fast as possible when absent. */
  readonly ratePerSecond?: number;
};

/** Deliveries from the server's writes to subscribed connections, timed and checked. */
export async function runDeliveries(ctx: BenchContext, spec: DeliverySpec): Promise<Row[]> {
  const client = startLoadClient();
  const servers = await startServers(ctx, spec.kinds);
  const rows = new Map<ServerKind, Row>(
    spec.kinds.map((kind) => [kind, { scenario: spec.scenario, size: spec.size, kind, unit: 'deliveries/s', trials: [] }]),
  );
  try {
    for (const kind of spec.kinds) {
      const { url } = servers.get(kind);
      await client.call('connect', { key: kind, kind, url, count: spec.connections });
    }
    // Round -1 warms up (JIT, lazily loaded code, buffers) and is not recorded.
    for (let round = -1; round < ctx.rounds; round += 1) {
      const events = round < 0 ? Math.max(2, Math.ceil(spec.events / 4)) : spec.events;
      for (const kind of order(spec.kinds, round + 1)) {
        const { peer } = servers.get(kind);
        const groups = await peer.call('openGroups', { count: spec.fanOut ? 1 : spec.connections });
        await client.call('subscribe', { key: kind, groups, fanOut: spec.fanOut, events });
        await peer.call('markCpu', undefined);
        const writing = peer.call('write', {
          groups: groups.map((g) => g.id),
          events,
          ...(spec.ratePerSecond === undefined ? {} : { ratePerSecond: spec.ratePerSecond }),
        });
        const result = await client.call('results', { key: kind });
        const written = await writing;
        const cpu = await peer.call('cpuSinceMark', undefined);
        const cpuUs = cpu.user + cpu.system;
        failIfErrors(`${spec.scenario} ${spec.size}, ${SERVER_LABELS[kind]}, round ${round + 1}`, result.errors);
        if (round < 0) continue;
        const metrics: Metrics = {
          rate: result.deliveries / ((result.lastAt - written.startedAt) / 1000),
          p50Ms: result.p50Ms,
          p99Ms: result.p99Ms,
          cpuUs: cpuUs / result.deliveries,
          rssKb: Number.NaN,
          clientCpuUs: result.clientCpuUs / result.deliveries,
        };
        rows.get(kind)?.trials.push(metrics);
        ctx.log(
          `${spec.scenario} ${spec.size} · round ${round + 1} · ${SERVER_LABELS[kind]}: ${fmt(metrics.rate, 0)}/s, ` +
            `p50 ${fmt(metrics.p50Ms)} ms, p99 ${fmt(metrics.p99Ms)} ms, server ${fmt(metrics.cpuUs)} µs ` +
            `(${fmt(cpu.system / result.deliveries)} in the kernel), client ${fmt(metrics.clientCpuUs)} µs per delivery`,
        );
      }
    }
    for (const kind of spec.kinds) await client.call('close', { key: kind });
  } finally {
    await Promise.all([servers.stop(), client.stop()]);
  }
  return [...rows.values()];
}

/**
 * Server RSS per idle subscribed connection at each of `sizes` (ascending):
 * a fresh server per server and round, read after a full GC before any
 * connection and again as each size is reached.
 */
export async function runIdleMemory(
  ctx: BenchContext,
  spec: { readonly scenario: string; readonly kinds: readonly DeliveryServerKind[]; readonly sizes: readonly number[]; readonly rounds: number },
): Promise<Row[]> {
  const rows = new Map<string, Row>();
  const rowFor = (kind: DeliveryServerKind, connections: number) => {
    const size = `${connections.toLocaleString('en')} connections`;
    const key = `${kind} ${size}`;
    const row = rows.get(key) ?? { scenario: spec.scenario, size, kind, unit: '', trials: [] };
    rows.set(key, row);
    return row;
  };
  for (const connections of spec.sizes) for (const kind of spec.kinds) rowFor(kind, connections);
  const client = startLoadClient();
  try {
    for (let round = 0; round < spec.rounds; round += 1) {
      for (const kind of order(spec.kinds, round)) {
        const servers = await startServers(ctx, [kind]);
        try {
          const { peer, url } = servers.get(kind);
          const largest = spec.sizes.at(-1) ?? 0;
          const groups = await peer.call('openGroups', { count: largest });
          const before = await peer.call('memory', undefined);
          let open = 0;
          for (const connections of spec.sizes) {
            const key = `${kind}-${connections}`;
            await client.call('connect', { key, kind, url, count: connections - open });
            await client.call('subscribe', { key, groups: groups.slice(open, connections), fanOut: false, events: 0 });
            open = connections;
            const after = await peer.call('memory', undefined);
            const rssKb = (after.rss - before.rss) / 1024 / connections;
            rowFor(kind, connections).trials.push({ rssKb });
            ctx.log(
              `${spec.scenario} ${connections.toLocaleString('en')} connections · round ${round + 1} · ${SERVER_LABELS[kind]}: ${fmt(rssKb)} KB RSS, ` +
                `${fmt((after.heapUsed - before.heapUsed) / 1024 / connections)} KB heap per connection`,
            );
          }
          for (const connections of spec.sizes) await client.call('close', { key: `${kind}-${connections}` });
        } finally {
          await servers.stop();
        }
      }
    }
  } finally {
    await client.stop();
  }
  return [...rows.values()];
}

export type WorkflowSpec = {
  readonly scenario: string;
  readonly count: number;
  /** Workflows started and watched at once. */
  readonly inFlight: number;
  readonly kinds: readonly ServerKind[];
};

/**
 * Whole workflows through the public API (see the load client's
 * `workflows`), the servers alternated round by round, all features on and
 * logs at `info`. A server on Redis also reports Redis's own CPU and
 * commands per workflow; one workflow at a time through a counting relay
 * gives its Redis round trips.
 */
export async function runWorkflows(ctx: BenchContext, spec: WorkflowSpec): Promise<Row[]> {
  const size = `${spec.count.toLocaleString('en')} workflows, ${spec.inFlight} in flight`;
  const rows = new Map<ServerKind, Row>(spec.kinds.map((kind) => [kind, { scenario: spec.scenario, size, kind, unit: 'workflows/s', trials: [] }]));
  const prefix = `bench:${randomUUID()}:`;
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const onRedis = spec.kinds.includes('ours-redis');
  if (onRedis) await redis.connect();
  const client = startLoadClient();
  const servers = await startServers(ctx, spec.kinds, { logLevel: 'info', redisKeyPrefix: prefix });
  const commands = new Map<string, number>();
  let measured = 0;
  try {
    for (const kind of spec.kinds) {
      const { peer, url } = servers.get(kind);
      failIfErrors(`${spec.scenario} warm-up, ${SERVER_LABELS[kind]}`, (await client.call('workflows', { url, count: WARM_UP_OPERATIONS * 4, inFlight: spec.inFlight })).errors);
      await peer.call('idle', undefined);
    }
    for (let round = 0; round < ctx.rounds; round += 1) {
      for (const kind of order(spec.kinds, round)) {
        const { peer, url } = servers.get(kind);
        const redisBefore = kind === 'ours-redis' ? await sampleRedis(redis) : undefined;
        await peer.call('markCpu', undefined);
        const result = await client.call('workflows', { url, count: spec.count, inFlight: spec.inFlight });
        // The work of these workflows, including what follows their finished events.
        await peer.call('idle', undefined);
        const cpu = await peer.call('cpuSinceMark', undefined);
        const redisUsed = redisBefore ? redisDelta(redisBefore, await sampleRedis(redis)) : undefined;
        failIfErrors(`${spec.scenario} ${size}, ${SERVER_LABELS[kind]}, round ${round + 1}`, result.errors);
        const metrics: Metrics = {
          rate: spec.count / (result.ms / 1000),
          p50Ms: result.p50Ms,
          p99Ms: result.p99Ms,
          cpuUs: (cpu.user + cpu.system) / spec.count,
          rssKb: Number.NaN,
          clientCpuUs: result.clientCpuUs / spec.count,
          redisCpuUs: redisUsed ? redisUsed.cpuUs / spec.count : Number.NaN,
        };
        if (redisUsed) {
          measured += spec.count;
          for (const [name, calls] of redisUsed.calls) commands.set(name, (commands.get(name) ?? 0) + calls);
        }
        rows.get(kind)?.trials.push(metrics);
        ctx.log(
          `${spec.scenario} ${size} · round ${round + 1} · ${SERVER_LABELS[kind]}: ${fmt(metrics.rate, 0)} workflows/s, ` +
            `create → finished p50 ${fmt(metrics.p50Ms)} ms, p99 ${fmt(metrics.p99Ms)} ms (the create call alone p99 ${fmt(result.createP99Ms)} ms), ${fmt(metrics.cpuUs, 0)} µs server CPU` +
            `${redisUsed ? ` + ${fmt(metrics.redisCpuUs ?? Number.NaN, 0)} µs Redis CPU` : ''}, ${fmt(metrics.clientCpuUs, 0)} µs client CPU per workflow ` +
            `(${result.events} events${result.drops > 0 ? `; the WebSocket dropped ${result.drops} times and resumed` : ''})`,
        );
      }
    }
    if (onRedis && measured > 0) {
      const perWorkflow = [...commands].sort((a, b) => b[1] - a[1]).map(([name, calls]) => `${name} ${fmt(calls / measured)}`);
      const total = [...commands.values()].reduce((a, b) => a + b, 0) / measured;
      ctx.note(`Redis commands per workflow, those run inside Lua scripts (BullMQ's, the log's appends) included: ${fmt(total)} — ${perWorkflow.join(', ')}`);
      ctx.note(`Redis round trips per workflow, one workflow at a time through a counting relay: ${fmt(await countRoundTrips(ctx, client, prefix))}`);
    }
  } finally {
    await Promise.all([servers.stop(), client.stop()]);
    if (onRedis) {
      await deleteKeys(prefix, ctx.redisUrl);
      redis.disconnect();
    }
  }
  return [...rows.values()];
}

/** A fresh Redis-backed server behind the counting relay runs workflows one at a time. */
async function countRoundTrips(ctx: BenchContext, client: Peer<LoadClientHandlers>, prefix: string): Promise<number> {
  const target = new URL(ctx.redisUrl);
  const counter = await startRoundTripCounter({ host: target.hostname, port: Number(target.port || 6379) });
  const servers = await startServers({ ...ctx, redisUrl: counter.url }, ['ours-redis'], { logLevel: 'info', redisKeyPrefix: `${prefix}trips:` });
  try {
    const { peer, url } = servers.get('ours-redis');
    failIfErrors('round-trip warm-up', (await client.call('workflows', { url, count: 5, inFlight: 1 })).errors);
    await peer.call('idle', undefined);
    const before = counter.roundTrips();
    const count = 20;
    failIfErrors('round-trip count', (await client.call('workflows', { url, count, inFlight: 1 })).errors);
    await peer.call('idle', undefined);
    return (counter.roundTrips() - before) / count;
  } finally {
    await servers.stop();
    await counter.close();
  }
}

/** `pets.create` round trips over HTTP and over WebSocket; CPU includes the workflow each create starts. */
export async function runCreates(
  ctx: BenchContext,
  spec: { readonly scenario: string; readonly total: number; readonly concurrency: number },
): Promise<Row[]> {
  const size = `${spec.total.toLocaleString('en')} creates`;
  const transports = ['http', 'ws'] as const;
  const rows = new Map(
    transports.map((transport) => [
      transport,
      {
        scenario: spec.scenario,
        size,
        kind: 'ours',
        label: `${SERVER_LABELS.ours} over ${transport === 'http' ? 'HTTP' : 'WebSocket'}`,
        unit: 'creates/s',
        trials: [],
      } satisfies Row as Row,
    ]),
  );
  const client = startLoadClient();
  const servers = await startServers(ctx, ['ours']);
  try {
    const { peer, url } = servers.get('ours');
    for (const transport of transports) {
      const warmUp = await client.call('creates', { url, transport, total: WARM_UP_OPERATIONS, concurrency: spec.concurrency });
      failIfErrors(`${spec.scenario} warm-up over ${transport}`, warmUp.errors);
    }
    await peer.call('idle', undefined);
    for (let round = 0; round < ctx.rounds; round += 1) {
      for (const transport of order(transports, round)) {
        await peer.call('markCpu', undefined);
        const started = now();
        const result = await client.call('creates', { url, transport, total: spec.total, concurrency: spec.concurrency });
        await peer.call('idle', undefined);
        const cpu = await peer.call('cpuSinceMark', undefined);
        const cpuUs = cpu.user + cpu.system;
        failIfErrors(`${spec.scenario} ${size} over ${transport}, round ${round + 1}`, result.errors);
        const metrics: Metrics = {
          rate: result.creates / (result.ms / 1000),
          p50Ms: result.p50Ms,
          p99Ms: result.p99Ms,
          cpuUs: cpuUs / result.creates,
          rssKb: Number.NaN,
          clientCpuUs: Number.NaN,
        };
        rows.get(transport)?.trials.push(metrics);
        ctx.log(
          `${spec.scenario} ${size} over ${transport} · round ${round + 1}: ${fmt(metrics.rate, 0)} creates/s, ` +
            `p50 ${fmt(metrics.p50Ms)} ms, p99 ${fmt(metrics.p99Ms)} ms, ${fmt(metrics.cpuUs, 0)} µs server CPU per create ` +
            `(with its workflow; ${fmt((now() - started) / 1000)} s until idle)`,
        );
      }
    }
  } finally {
    await Promise.all([servers.stop(), client.stop()]);
  }
  return [...rows.values()];
}
