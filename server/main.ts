/**
 * Process entry: configuration from the environment, the app, and a graceful
 * shutdown on SIGINT/SIGTERM. Nothing else lives here.
 */
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';

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

const log = createLogger({ level: config.logLevel });
const app = createApp(config, log);
const { host, port } = await app.listen();
log.info(
  `Pet shelter streams on http://${host}:${port} (tRPC at /trpc, WebSocket at ws://${host}:${port}/trpc)`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'Shutting down');
    const forceExit = setTimeout(() => process.exit(1), config.limits.shutdownTimeoutMs + 2000);
    forceExit.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'Shutdown failed');
        process.exit(1);
      },
    );
  });
}
