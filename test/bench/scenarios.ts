/**
 * The scenarios. Each starts fresh server processes, alternates the servers
 * round by round (A B … then … B A, so drift over the run cancels) and
 * checks every delivery.
 */
import { now } from './clock.js';
import type { Peer } from './ipc.js';
import { startLoadClient, startServerProcess, type ProcessOptions } from './processes.js';
import { BenchFailure, type Metrics, type Row } from './results.js';
import type { ServerHandlers } from './server-process.js';
import { SERVER_LABELS, type ServerKind } from './servers/bench-server.js';

export type BenchContext = {
  readonly modelUrl: string;
  readonly rounds: number;
  readonly processes: ProcessOptions;
  readonly log: (line: string) => void;
};

/** Round r visits the servers in order, round r+1 in reverse. */
const order = <T>(items: readonly T[], round: number): readonly T[] => (round % 2 === 0 ? items : [...items].reverse());

const MIN_CONNECTIONS_FOR_RSS = 1000;
/** Workflows or creates run before the measured rounds of those scenarios. */
const WARM_UP_OPERATIONS = 50;

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

function failIfErrors(what: string, errors: readonly string[]): void {
  if (errors.length > 0) throw new BenchFailure(`${what}:\n  ${errors.join('\n  ')}`);
}

async function startServers(ctx: BenchContext, kinds: readonly ServerKind[]) {
  const servers = new Map<ServerKind, { peer: Peer<ServerHandlers>; url: string }>();
  await Promise.all(
    kinds.map(async (kind) => {
      const peer = startServerProcess(kind, ctx.modelUrl, ctx.processes);
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
  readonly kinds: readonly ServerKind[];
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
    const baseRss = new Map<ServerKind, number>();
    for (const kind of spec.kinds) {
      const { peer, url } = servers.get(kind);
      baseRss.set(kind, (await peer.call('memory', null)).rss);
      await client.call('connect', { key: kind, kind, url, count: spec.connections });
    }
    // Round -1 warms up (JIT, lazily loaded code, buffers) and is not recorded.
    for (let round = -1; round < ctx.rounds; round += 1) {
      const events = round < 0 ? Math.max(2, Math.ceil(spec.events / 4)) : spec.events;
      for (const kind of order(spec.kinds, round + 1)) {
        const { peer } = servers.get(kind);
        const groups = await peer.call('openGroups', { count: spec.fanOut ? 1 : spec.connections });
        await client.call('subscribe', { key: kind, groups, fanOut: spec.fanOut, events });
        let rssKb = Number.NaN;
        // Below a thousand connections the growth is within the noise of RSS itself.
        if (round === 0 && spec.connections >= MIN_CONNECTIONS_FOR_RSS) {
          const { rss } = await peer.call('memory', null);
          rssKb = (rss - (baseRss.get(kind) ?? rss)) / 1024 / spec.connections;
        }
        await peer.call('markCpu', null);
        const writing = peer.call('write', {
          groups: groups.map((g) => g.id),
          events,
          ...(spec.ratePerSecond === undefined ? {} : { ratePerSecond: spec.ratePerSecond }),
        });
        const result = await client.call('results', { key: kind });
        const written = await writing;
        const cpuUs = await peer.call('cpuSinceMark', null);
        failIfErrors(`${spec.scenario} ${spec.size}, ${SERVER_LABELS[kind]}, round ${round + 1}`, result.errors);
        if (round < 0) continue;
        const metrics: Metrics = {
          rate: result.deliveries / ((result.lastAt - written.startedAt) / 1000),
          p50Ms: result.p50Ms,
          p99Ms: result.p99Ms,
          cpuUs: cpuUs / result.deliveries,
          rssKb,
          clientCpuUs: result.clientCpuUs / result.deliveries,
        };
        rows.get(kind)?.trials.push(metrics);
        ctx.log(
          `${spec.scenario} ${spec.size} · round ${round + 1} · ${SERVER_LABELS[kind]}: ${fmt(metrics.rate, 0)}/s, ` +
            `p50 ${fmt(metrics.p50Ms)} ms, p99 ${fmt(metrics.p99Ms)} ms, server ${fmt(metrics.cpuUs)} µs, client ${fmt(metrics.clientCpuUs)} µs per delivery`,
        );
      }
    }
    for (const kind of spec.kinds) await client.call('close', { key: kind });
  } finally {
    await Promise.all([servers.stop(), client.stop()]);
  }
  return [...rows.values()];
}

/** Server RSS per idle subscribed connection: a fresh server per trial, read after a full GC. */
export async function runIdleMemory(
  ctx: BenchContext,
  spec: { readonly scenario: string; readonly kinds: readonly ServerKind[]; readonly connections: number; readonly rounds: number },
): Promise<Row[]> {
  const size = `${spec.connections.toLocaleString('en')} connections`;
  const rows = new Map<ServerKind, Row>(
    spec.kinds.map((kind) => [kind, { scenario: spec.scenario, size, kind, unit: '', trials: [] }]),
  );
  const client = startLoadClient();
  try {
    for (let round = 0; round < spec.rounds; round += 1) {
      for (const kind of order(spec.kinds, round)) {
        const servers = await startServers(ctx, [kind]);
        try {
          const { peer, url } = servers.get(kind);
          const groups = await peer.call('openGroups', { count: spec.connections });
          const before = await peer.call('memory', null);
          await client.call('connect', { key: kind, kind, url, count: spec.connections });
          await client.call('subscribe', { key: kind, groups, fanOut: false, events: 0 });
          const after = await peer.call('memory', null);
          const rssKb = (after.rss - before.rss) / 1024 / spec.connections;
          rows.get(kind)?.trials.push({ rssKb });
          ctx.log(
            `${spec.scenario} ${size} · round ${round + 1} · ${SERVER_LABELS[kind]}: ${fmt(rssKb)} KB RSS, ` +
              `${fmt((after.heapUsed - before.heapUsed) / 1024 / spec.connections)} KB heap per connection`,
          );
          await client.call('close', { key: kind });
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

/** Whole workflows: `pets.create`, then one subscriber to the workflow's stream until it finishes. */
export async function runWorkflows(ctx: BenchContext, spec: { readonly scenario: string; readonly count: number }): Promise<Row[]> {
  const row: Row = {
    scenario: spec.scenario,
    size: `${spec.count.toLocaleString('en')} workflows`,
    kind: 'ours',
    unit: 'workflows/s',
    trials: [],
  };
  const client = startLoadClient();
  const servers = await startServers(ctx, ['ours']);
  try {
    const { peer, url } = servers.get('ours');
    failIfErrors(`${spec.scenario} warm-up`, (await client.call('workflows', { url, count: WARM_UP_OPERATIONS })).errors);
    await peer.call('idle', null);
    for (let round = 0; round < ctx.rounds; round += 1) {
      await peer.call('markCpu', null);
      const result = await client.call('workflows', { url, count: spec.count });
      const cpuUs = await peer.call('cpuSinceMark', null);
      failIfErrors(`${spec.scenario} ${row.size}, round ${round + 1}`, result.errors);
      const metrics: Metrics = {
        rate: spec.count / (result.ms / 1000),
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        cpuUs: cpuUs / spec.count,
        rssKb: Number.NaN,
        clientCpuUs: result.clientCpuUs / spec.count,
      };
      row.trials.push(metrics);
      ctx.log(
        `${spec.scenario} ${row.size} · round ${round + 1}: ${fmt(metrics.rate, 0)} workflows/s, ` +
          `${result.events} events, p50 ${fmt(metrics.p50Ms)} ms, p99 ${fmt(metrics.p99Ms)} ms per event, ${fmt(metrics.cpuUs, 0)} µs server CPU per workflow`,
      );
      await peer.call('idle', null);
    }
  } finally {
    await Promise.all([servers.stop(), client.stop()]);
  }
  return [row];
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
    await peer.call('idle', null);
    for (let round = 0; round < ctx.rounds; round += 1) {
      for (const transport of order(transports, round)) {
        await peer.call('markCpu', null);
        const started = now();
        const result = await client.call('creates', { url, transport, total: spec.total, concurrency: spec.concurrency });
        await peer.call('idle', null);
        const cpuUs = await peer.call('cpuSinceMark', null);
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
