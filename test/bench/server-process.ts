/**
 * One server under test, in its own process so that its CPU time and memory
 * are its own. The orchestrator drives it over IPC.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

import { now } from './clock.js';
import { serve } from './ipc.js';
import { createBareTrpcServer } from './servers/bare-trpc-server.js';
import { createBareTrpcApp } from './servers/bare-trpc-app.js';
import type { BenchServer, ServerKind, WorkflowServer } from './servers/bench-server.js';
import { createOurServer } from './servers/our-server.js';
import { createRawWsServer } from './servers/raw-ws-server.js';
import { createSocketIoServer } from './servers/socket-io-server.js';

export type WriteRequest = {
  readonly groups: readonly string[];
  /** Events per group, sequence 1..events; the last ends the group. */
  readonly events: number;
  /** Events per second per group; as fast as the server can when absent. */
  readonly ratePerSecond?: number;
};

export type MemorySample = { readonly rss: number; readonly heapUsed: number };

function create(kind: ServerKind, modelUrl: string, redisKeyPrefix: string): BenchServer | WorkflowServer {
  switch (kind) {
    case 'ours':
      return createOurServer({ modelUrl, logLevel });
    case 'ours-redis':
      return createOurServer({ modelUrl, logLevel, redisUrl: REDIS_URL, redisKeyPrefix });
    case 'trpc-app':
      return createBareTrpcApp({ modelUrl });
    case 'ws':
      return createRawWsServer();
    case 'socketio':
      return createSocketIoServer();
    case 'trpc':
      return createBareTrpcServer();
  }
}

const [kind = 'ours', modelUrl = 'http://127.0.0.1:9/v1', REDIS_URL = 'redis://127.0.0.1:6379', redisKeyPrefix = 'bench:', log = 'silent'] =
  process.argv.slice(2);
const logLevel = log === 'info' ? 'info' : 'silent';
const server = create(kind as ServerKind, modelUrl, redisKeyPrefix);

/** The delivery scenarios' calls, on servers that take them. */
function delivery(): BenchServer {
  if (!('writeSweep' in server)) throw new Error(`${kind} serves whole workflows only`);
  return server;
}
let cpuMark = process.cpuUsage();

async function write({ groups, events, ratePerSecond }: WriteRequest) {
  const startedAt = now();
  for (let seq = 1; seq <= events; seq += 1) {
    await delivery().writeSweep(groups, seq, seq === events);
    if (ratePerSecond === undefined) {
      // One sweep per turn of the event loop: sockets are served in between.
      await nextTurn();
    } else {
      const due = startedAt + (seq * 1000) / ratePerSecond;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      else await nextTurn();
    }
  }
  return { startedAt, endedAt: now() };
}

async function memory(): Promise<MemorySample> {
  // Twice, then a pause: finalizers and freed pages settle before RSS is read.
  for (let i = 0; i < 2; i += 1) {
    globalThis.gc?.();
    await sleep(100);
  }
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed };
}

export const serverHandlers = {
  listen: () => server.listen(),
  openGroups: ({ count }: { readonly count: number }) => delivery().openGroups(count),
  write,
  memory: () => memory(),
  markCpu: () => {
    cpuMark = process.cpuUsage();
    return null;
  },
  /** Server CPU time since `markCpu`, in µs: user (JavaScript, V8, libuv) and system (kernel: socket writes). */
  cpuSinceMark: () => process.cpuUsage(cpuMark),
  idle: () => server.idle(),
  close: () => server.close(),
};
export type ServerHandlers = typeof serverHandlers;

serve(serverHandlers);
