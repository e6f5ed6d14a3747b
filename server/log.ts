/** Structured logging: one JSON line per event, with trace id and step where known. */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export type LoggerOptions = {
  readonly level: string;
  /** Where lines go; stdout when absent. Tests pass a capture stream. */
  readonly destination?: DestinationStream;
};

export function createLogger({ level, destination }: LoggerOptions): Logger {
  const options = {
    level,
    base: { service: 'pet-stream' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Tokens and keys never reach a log line.
    redact: ['token', 'streamToken', 'apiKey', '*.token', '*.streamToken'],
  };
  return destination ? pino(options, destination) : pino(options);
}

/** The logger of one step run (or the API) within one workflow. */
export function workflowLogger(log: Logger, traceId: string, step: string): Logger {
  return log.child({ traceId, step });
}
