import { EventSource } from 'eventsource';
import WebSocket from 'ws';

import { createPetClient, type PetClient, type PetClientOptions } from '../../client/create-client.js';
import { createServer, type Server } from '../../server/engine/create-server.js';
import { testApplication, type TestOverrides } from './test-application.js';
import { captureLogger, testConfig, type LogLine } from './test-config.js';

export type TestApp = AsyncDisposable & {
  readonly app: Server;
  readonly client: PetClient;
  readonly url: string;
  readonly wsUrl: string;
  readonly logs: LogLine[];
  /** Resolves with the first log line (past or future) that `match` accepts. */
  readonly waitForLog: (match: (line: LogLine) => boolean) => Promise<LogLine>;
  /** Another client of the same server (WebSocket unless `transport: 'sse'`). */
  readonly newClient: (options?: Partial<PetClientOptions>) => PetClient;
};

/** The `ws` class as the client's WebSocket option (Node 20 has no global one). */
export const NodeWebSocket = WebSocket as unknown as typeof globalThis.WebSocket;
/** The `eventsource` package's class as the client's EventSource option (Node has no global one). */
export const NodeEventSource: typeof globalThis.EventSource = EventSource;

/** A real server on an ephemeral loopback port, with a real client; closed on dispose. */
export async function startTestApp(
  options: { readonly env?: Record<string, string> } & TestOverrides = {},
): Promise<TestApp> {
  const { log, lines, waitForLine } = captureLogger();
  const app = createServer(testConfig(options.env), log, testApplication(options));
  const { port } = await app.listen();
  const url = `http://127.0.0.1:${port}`;
  const clients: PetClient[] = [];
  const newClient = (clientOptions: Partial<PetClientOptions> = {}) => {
    // Fast reconnects keep tests quick; the default backs off up to 10 s.
    const client = createPetClient({
      url,
      WebSocket: NodeWebSocket,
      EventSource: NodeEventSource,
      retryDelayMs: () => 10,
      ...clientOptions,
    });
    clients.push(client);
    return client;
  };
  const client = newClient();
  return {
    app,
    client,
    url,
    wsUrl: `ws://127.0.0.1:${port}/trpc`,
    logs: lines,
    waitForLog: waitForLine,
    newClient,
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((c) => c.close()));
      await app.close();
    },
  };
}
