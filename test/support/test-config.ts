import { loadConfig, type Config } from '../../server/engine/config.js';
import { createLogger, type Logger } from '../../server/engine/log.js';
import { createDeferred, type Deferred } from '../../shared/deferred.js';

/** Configuration for tests: zero delays, port 0, fixed token secret, no model. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    FEEDING_CHECK_DELAY_MS: '0',
    STEP_RETRY_BASE_MS: '0',
    STREAM_TOKEN_SECRET: 'test-secret-that-is-at-least-32-characters-long',
    SHUTDOWN_TIMEOUT_MS: '2000',
    // Tests create many pets from one address; the limit's own tests turn it on.
    RATE_LIMIT_CREATE_PER_MINUTE: '0',
    ...env,
  });
}

export type LogLine = {
  readonly msg: string;
  readonly level: number;
  readonly traceId?: string;
  readonly step?: string;
} & Record<string, unknown>;

/** A logger whose lines are kept, parsed, for assertions; `waitForLine` awaits one. */
export function captureLogger(): {
  readonly log: Logger;
  readonly lines: LogLine[];
  /** Resolves with the first line (past or future) that `match` accepts. */
  readonly waitForLine: (match: (line: LogLine) => boolean) => Promise<LogLine>;
} {
  const lines: LogLine[] = [];
  const waiters = new Set<{
    readonly match: (line: LogLine) => boolean;
    readonly found: Deferred<LogLine>;
  }>();
  const log = createLogger({
    level: 'debug',
    destination: {
      write: (text: string) => {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        for (const waiter of waiters) {
          if (!waiter.match(line)) continue;
          waiters.delete(waiter);
          waiter.found.resolve(line);
        }
      },
    },
  });
  const waitForLine = (match: (line: LogLine) => boolean): Promise<LogLine> => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    const found = createDeferred<LogLine>();
    waiters.add({ match, found });
    return found.promise;
  };
  return { log, lines, waitForLine };
}
