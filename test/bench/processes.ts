/**
 * Starts the bench's child processes: each server under test and the load
 * client run in their own Node process, with the garbage collector exposed
 * for memory readings and enough file descriptors for thousands of sockets.
 * Servers run compiled JavaScript, as in production (`compileServers`
 * first); the load client runs its TypeScript through tsx.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Peer } from './ipc.js';
import type { LoadClientHandlers } from './load-client.js';
import type { ServerHandlers } from './server-process.js';
import type { ServerKind } from './servers/bench-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Sockets of the largest scenario, plus room for the process's own files. */
export const REQUIRED_FILE_DESCRIPTORS = 5000 + 1000;

const ROOT = path.resolve(HERE, '../..');
/** Where `compileServers` writes the server processes' JavaScript (tsconfig.bench.json). */
const COMPILED_SERVER = path.join(ROOT, 'dist/bench/test/bench/server-process.js');

/** Compiles the server processes and what they import, once per run. */
export function compileServers(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.bench.json')], {
    stdio: 'inherit',
  });
}

export type ProcessOptions = {
  /** Writes a V8 CPU profile of each server process of these kinds into `cpuProfileDir`. */
  readonly profileKinds?: readonly ServerKind[];
  readonly cpuProfileDir?: string;
};

/** The soft and hard limits on open files that children inherit. */
export function fileLimits(): { readonly soft: number; readonly hard: number } {
  const [soft = '0', hard = '0'] = execFileSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).trim().split('\n');
  const parse = (value: string) => (value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value));
  return { soft: parse(soft), hard: parse(hard) };
}

function fork(script: readonly string[], args: readonly string[], nodeFlags: readonly string[]): ChildProcess {
  const node = [process.execPath, '--expose-gc', ...nodeFlags, ...script, ...args];
  const { soft, hard } = fileLimits();
  // Structured clone keeps NaN and typed arrays intact across the channel.
  const options: SpawnOptions = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' };
  if (soft >= REQUIRED_FILE_DESCRIPTORS) return spawn(process.execPath, node.slice(1), options);
  // Raise the soft limit for the child only, as far as the hard limit allows.
  const raised = Number.isFinite(hard) ? Math.min(hard, 65_536) : 65_536;
  return spawn('sh', ['-c', `ulimit -n ${raised} && exec "$@"`, 'sh', ...node], options);
}

export type ServerProcessOptions = {
  readonly modelUrl: string;
  /** The Redis a server on Redis uses. */
  readonly redisUrl: string;
  /** The key prefix of a server on Redis. */
  readonly redisKeyPrefix?: string;
  readonly logLevel?: 'info' | 'silent';
};

export function startServerProcess(kind: ServerKind, server: ServerProcessOptions, options: ProcessOptions = {}): Peer<ServerHandlers> {
  const profile = options.profileKinds?.includes(kind) && options.cpuProfileDir;
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  const args = [kind, server.modelUrl, server.redisUrl, server.redisKeyPrefix ?? 'bench:', server.logLevel ?? 'silent'];
  return new Peer(`server ${kind}`, fork([COMPILED_SERVER], args, flags));
}

export function startLoadClient(): Peer<LoadClientHandlers> {
  return new Peer('load client', fork(['--import', 'tsx', path.join(HERE, 'load-client.ts')], [], []));
}
