/** Structured logging: one JSON line per event, with trace id and step where known. */
import { pino, type DestinationStream, type Logger } from 'pino';

import { LogSink, stdoutSink } from './log-sink.js';

export type { Logger };

export type LoggerOptions = {
  readonly level: string;
  /**
   * Where lines go; standard output, bounded, when absent (see LogSink:
   * a slow or missing reader never blocks). Tests pass a capture stream.
   */
  readonly destination?: DestinationStream;
};

export function createLogger({ level, destination = stdoutSink() }: LoggerOptions): Logger {
  const tap = new LogTap();
  const options = {
    level,
    hooks: {
      logMethod(this: Logger, args: Parameters<Logger['info']>, method: Logger['info'], levelValue: number) {
        tap.forward(this, args, levelValue);
        method.apply(this, args);
      },
    },
    base: { service: 'pet-stream' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Tokens and keys never reach a log line.
    redact: ['token', 'streamToken', 'apiKey', '*.token', '*.streamToken'],
  };
  // Never pino's own stdout destination: it flushes synchronously at exit, waiting for the reader for ever.
  const logger = pino(options, destination);
  // Child loggers inherit both through their prototype.
  Object.defineProperty(logger, TAP, { value: tap });
  Object.defineProperty(logger, SINK, { value: destination });
  return logger;
}

/** A line logged with a trace id, as traces record it. */
export type TracedLine = {
  readonly traceId: string;
  readonly step: string | null;
  readonly level: string;
  readonly msg: string;
};

const TAP = Symbol('logTap');
const SINK = Symbol('logSink');

/** Hands the lines that carry a trace id to listeners (the trace store), once the service is built. */
export class LogTap {
  readonly #listeners = new Set<(line: TracedLine) => void>();

  on(listener: (line: TracedLine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  forward(logger: Logger, args: readonly unknown[], levelValue: number): void {
    if (this.#listeners.size === 0) return;
    const [first, second] = args;
    const fields = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : {};
    const bound: Readonly<Record<string, unknown>> = logger.bindings();
    const traceId = fields['traceId'] ?? bound['traceId'];
    if (typeof traceId !== 'string') return;
    const step = fields['step'] ?? bound['step'];
    const msg =
      typeof first === 'string'
        ? first
        : typeof second === 'string'
          ? second
          : first instanceof Error
            ? first.message
            : '';
    const line: TracedLine = {
      traceId,
      step: typeof step === 'string' ? step : null,
      level: logger.levels.labels[levelValue] ?? String(levelValue),
      msg,
    };
    for (const listener of this.#listeners) listener(line);
  }
}

/** The tap of a logger made by `createLogger` (or of its children); undefined for any other logger. */
export function logTapOf(log: Logger): LogTap | undefined {
  const tap: unknown = Reflect.get(log, TAP);
  return tap instanceof LogTap ? tap : undefined;
}

/** The bounded sink a logger made by `createLogger` writes to; undefined for a capture stream or any other logger. */
export function logSinkOf(log: Logger): LogSink | undefined {
  const sink: unknown = Reflect.get(log, SINK);
  return sink instanceof LogSink ? sink : undefined;
}

/** The logger of one step run (or the API) within one workflow. */
export function workflowLogger(log: Logger, traceId: string, step: string): Logger {
  return log.child({ traceId, step });
}
