/**
 * `npm run bench`: our server against raw ws (and Socket.IO and bare tRPC
 * where it matters), each scenario in one run with the servers alternated
 * round by round; every delivery checked. Prints the table and writes it to
 * bench/RESULTS.md. Options: --quick (small sizes, one round, no file),
 * --only=<fanout,paced,streams,workflows,memory,creates>, --rounds=N,
 * --profile=<dir> (V8 CPU profiles of our server processes), --out=<file>,
 * --servers=<ours,ws,socketio,trpc> (a subset of the delivery servers),
 * --no-redis (whole workflows on the memory backends only).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { startFakeModel } from './fake-model.js';
import { compileServers, fileLimits, REQUIRED_FILE_DESCRIPTORS } from './processes.js';
import { machineLines, goalLines, resultsMarkdown, resultsTable } from './report.js';
import { BenchFailure, type Row } from './results.js';
import { runCreates, runDeliveries, runIdleMemory, runWorkflows, type BenchContext } from './scenarios.js';
import { SERVER_KINDS, WORKFLOW_SERVER_KINDS } from './servers/bench-server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCENARIO_IDS = ['fanout', 'paced', 'streams', 'workflows', 'memory', 'creates'] as const;
type ScenarioId = (typeof SCENARIO_IDS)[number];

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string' },
    servers: { type: 'string' },
    'no-redis': { type: 'boolean', default: false },
  },
});

const quick = flags.quick ?? false;
const rounds = flags.rounds ? Number(flags.rounds) : quick ? 1 : 3;
if (!Number.isInteger(rounds) || rounds < 1) throw new TypeError(`Expected \`--rounds\` to be an integer ≥ 1, got \`${flags.rounds}\``);
const only = new Set((flags.only ?? SCENARIO_IDS.join(',')).split(',').map((s) => s.trim()));
for (const id of only) {
  if (!(SCENARIO_IDS as readonly string[]).includes(id)) throw new TypeError(`Unknown scenario \`${id}\`; one of ${SCENARIO_IDS.join(', ')}`);
}
const out = flags.out ?? (quick || flags.only || flags.servers ? undefined : path.join(ROOT, 'bench/RESULTS.md'));
/** Quick runs shrink every size tenfold. */
const n = (full: number) => (quick ? Math.max(10, Math.round(full / 10)) : full);
const count = (value: number, noun: string) => `${value.toLocaleString('en')} ${noun}`;

const chosen = new Set((flags.servers ?? SERVER_KINDS.join(',')).split(',').map((s) => s.trim()));
for (const kind of chosen) {
  if (!(SERVER_KINDS as readonly string[]).includes(kind)) throw new TypeError(`Unknown server \`${kind}\`; one of ${SERVER_KINDS.join(', ')}`);
}
const ALL = SERVER_KINDS.filter((kind) => chosen.has(kind));
const PAIR = ALL.filter((kind) => kind === 'ours' || kind === 'ws');
const WORKFLOW_KINDS = WORKFLOW_SERVER_KINDS.filter((kind) => kind !== 'ours-redis' || !flags['no-redis']);

const scenarios: Record<ScenarioId, (ctx: BenchContext) => Promise<Row[]>> = {
  fanout: async (ctx) => [
    ...(await runDeliveries(ctx, { scenario: 'Fan-out', size: count(n(100), 'subscribers'), kinds: PAIR, connections: n(100), fanOut: true, events: 500 })),
    ...(await runDeliveries(ctx, { scenario: 'Fan-out', size: count(n(1000), 'subscribers'), kinds: ALL, connections: n(1000), fanOut: true, events: 100 })),
  ],
  // 20,000 deliveries/s offered either way (a tenth in a quick run): 200 events/s to 100, or 20 events/s to 1,000.
  paced: async (ctx) => {
    const scenario = `Fan-out at ${(n(100) * 200) / 1000}k deliveries/s`;
    return [
      ...(await runDeliveries(ctx, { scenario, size: count(n(100), 'subscribers'), kinds: PAIR, connections: n(100), fanOut: true, events: 200, ratePerSecond: 200 })),
      ...(await runDeliveries(ctx, { scenario, size: count(n(1000), 'subscribers'), kinds: ALL, connections: n(1000), fanOut: true, events: 40, ratePerSecond: 20 })),
    ];
  },
  streams: async (ctx) => [
    ...(await runDeliveries(ctx, { scenario: 'Independent streams', size: count(n(100), 'streams'), kinds: PAIR, connections: n(100), fanOut: false, events: 300 })),
    ...(await runDeliveries(ctx, { scenario: 'Independent streams', size: count(n(1000), 'streams'), kinds: ALL, connections: n(1000), fanOut: false, events: 60 })),
  ],
  workflows: (ctx) => runWorkflows(ctx, { scenario: 'Workflows end to end', count: n(2000), inFlight: n(200), kinds: WORKFLOW_KINDS }),
  memory: (ctx) => runIdleMemory(ctx, { scenario: 'Idle memory', kinds: ALL, sizes: [n(1000), n(5000)], rounds: Math.min(ctx.rounds, 2) }),
  creates: async (ctx) => [
    ...(await runCreates(ctx, { scenario: 'pets.create', total: n(500), concurrency: 32 })),
    ...(await runCreates(ctx, { scenario: 'pets.create', total: n(2000), concurrency: 32 })),
  ],
};

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const limits = fileLimits();
  if (limits.hard < REQUIRED_FILE_DESCRIPTORS) {
    console.warn(`Open-file limit ${limits.hard} is below ${REQUIRED_FILE_DESCRIPTORS}: the 5,000-connection scenario may fail.`);
  }
  const model = await startFakeModel();
  compileServers();
  const notes: string[] = [];
  const ctx: BenchContext = {
    modelUrl: model.baseUrl,
    redisUrl: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    rounds,
    processes: flags.profile ? { profileKinds: ['ours', 'ours-redis', 'trpc-app'], cpuProfileDir: path.resolve(flags.profile) } : {},
    log: (line) => console.log(line),
    note: (line) => {
      console.log(line);
      notes.push(line);
    },
  };
  const rows: Row[] = [];
  try {
    for (const id of SCENARIO_IDS) {
      if (only.has(id)) rows.push(...(await scenarios[id](ctx)));
    }
  } catch (error) {
    if (rows.length > 0) console.log(`\n${resultsTable(rows)}\n`);
    console.error(error instanceof BenchFailure ? `\nBENCHMARK FAILED: ${error.message}` : error);
    return 1;
  } finally {
    await model.close();
  }
  const info = {
    startedAt,
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    loadBefore,
    loadAfter: os.loadavg(),
    rounds,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  };
  console.log(['', ...machineLines(info), '', resultsTable(rows), '', ...notes.map((note) => `- ${note}`), '', ...goalLines(rows), ''].join('\n'));
  if (out) {
    mkdirSync(path.dirname(out), { recursive: true });
    const analysis = path.join(ROOT, 'bench/where-the-time-goes.md');
    writeFileSync(out, resultsMarkdown(rows, info, notes, existsSync(analysis) ? readFileSync(analysis, 'utf8') : ''));
    console.log(`Written to ${path.relative(process.cwd(), out)}`);
  }
  return 0;
}

process.exitCode = await main();
