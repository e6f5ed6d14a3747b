/**
 * The real service as a child process (`server/main.ts` under tsx, or the
 * compiled `dist/server/main.js`), for tests that need several instances,
 * kill one, or run the production build. It listens on port 0 and reports
 * its port in the `Listening` log line; every log line is kept, parsed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import { createPetClient, type PetClient } from '../../client/create-client.js';
import { createDeferred, type Deferred } from '../../shared/deferred.js';
import type { LogLine } from './test-config.js';
import { NodeWebSocket } from './test-app.js';

export type ServerProcess = AsyncDisposable & {
  readonly url: string;
  readonly logs: readonly LogLine[];
  readonly child: ChildProcess;
  /** A client of this instance (closed with it). */
  readonly newClient: () => PetClient;
  /** Resolves with the first log line (past or future) that matches. */
  readonly waitForLog: (match: (line: LogLine) => boolean) => Promise<LogLine>;
  /** SIGTERM: the graceful shutdown. Resolves with the exit code. */
  readonly stop: () => Promise<number | null>;
  /** SIGKILL: the process dies on the spot, as in a crash. */
  readonly kill: () => Promise<void>;
};

const START_TIMEOUT_MS = 20_000;

/** The sources under tsx, or what `npm run build` compiled (as `npm start` runs it). */
export type ServerEntry = 'sources' | 'compiled';

/** Starts one instance with the given environment (nothing else is inherited but PATH). */
export async function startServerProcess(
  env: Record<string, string>,
  entry: ServerEntry = 'sources',
): Promise<ServerProcess> {
  const args = entry === 'compiled' ? ['dist/server/main.js'] : ['--import', 'tsx', 'server/main.ts'];
  const child = spawn(process.execPath, args, {
    cwd: new URL('../..', import.meta.url),
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; deferred: Deferred<LogLine> }[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout ?? process.stdin }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (!waiter.match(line)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.deferred.resolve(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (match: (line: LogLine) => boolean): Promise<LogLine> => {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    const deferred = createDeferred<LogLine>();
    waiters.push({ match, deferred });
    return deferred.promise;
  };

  let timer: NodeJS.Timeout | undefined;
  const listening = await Promise.race([
    waitForLog((line) => line.msg === 'Listening'),
    exited.then((code) => {
      throw new Error(`server exited with ${code} before listening:\n${stderr}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`server did not listen within ${START_TIMEOUT_MS} ms:\n${stderr}`)),
        START_TIMEOUT_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const url = `http://127.0.0.1:${String(listening['port'])}`;

  const clients: PetClient[] = [];
  const closeClients = () => Promise.all(clients.splice(0).map((client) => client.close()));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    url,
    logs,
    child,
    newClient: () => {
      const client = createPetClient({ url, WebSocket: NodeWebSocket, retryDelayMs: () => 50 });
      clients.push(client);
      return client;
    },
    waitForLog,
    stop: async () => {
      if (running()) child.kill('SIGTERM');
      const code = await exited;
      await closeClients();
      return code;
    },
    kill: async () => {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    async [Symbol.asyncDispose]() {
      if (running()) child.kill('SIGKILL');
      await exited;
      await closeClients();
    },
  };
}
