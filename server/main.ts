/**
 * Process entry: configuration from the environment, the app, and a graceful
 * shutdown on SIGINT/SIGTERM that ends the process in bounded time, whatever
 * the steps, the clients or the log's reader do. Nothing else lives here.
 */
import { shelter } from './app/pet-shelter/application.js';
import { ConfigError, createLogger, createServer, loadConfig, LogSink } from './engine/index.js';

/** The process ends at the latest this long after SHUTDOWN_TIMEOUT_MS, shut down cleanly or not. */
const EXIT_MARGIN_MS = 2000;
/** At most this long goes to handing the last log lines to the reader before exiting. */
const LOG_DRAIN_MS = 500;

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

const sink = new LogSink(process.stdout, { maxBufferedBytes: config.logMaxBufferedBytes });
const log = createLogger({ level: config.logLevel, destination: sink });
const app = createServer(config, log, shelter);
const { host, port } = await app.listen();
log.info(
  `Pet shelter streams on http://${host}:${port} (tRPC at /trpc, WebSocket at ws://${host}:${port}/trpc)`,
);

async function shutdown(signal: NodeJS.Signals, shutdownTimeoutMs: number): Promise<never> {
  const exitBy = Date.now() + shutdownTimeoutMs + EXIT_MARGIN_MS;
  // Logging never blocks (see LogSink): this timer runs whatever the log's reader does.
  const forceExit = setTimeout(() => process.exit(1), shutdownTimeoutMs + EXIT_MARGIN_MS);
  forceExit.unref();
  log.info({ signal }, 'Shutting down');
  let code = 0;
  try {
    await app.close();
  } catch (error) {
    code = 1;
    log.error({ err: error }, 'Shutdown failed');
  }
  // Lines the reader has not taken by then are lost: exiting matters more.
  await sink.drain(Math.max(0, Math.min(LOG_DRAIN_MS, exitBy - Date.now())));
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void shutdown(signal, config.limits.shutdownTimeoutMs));
}
