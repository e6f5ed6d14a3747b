/**
 * Where log lines go: standard output, bounded. A reader that is slow, stuck
 * or gone never blocks the event loop or the process's exit: lines that would
 * wait beyond `maxBufferedBytes`, or that follow a write error, are dropped
 * and counted instead.
 */
import type { Writable } from 'node:stream';

export type LogSinkOptions = {
  /** Bytes that may wait for the reader; lines beyond are dropped. @default 4_194_304 */
  readonly maxBufferedBytes?: number;
};

// Room for bursts of some 15,000 lines in one turn of the event loop while the reader keeps up.
const DEFAULT_MAX_BUFFERED_BYTES = 4_194_304;

export class LogSink {
  readonly #out: Writable;
  readonly #maxBufferedBytes: number;
  #dropped = 0;
  #broken = false;

  /**
   * `out` should write without blocking, as Node's `process.stdout` does on
   * pipes and sockets; nothing here writes synchronously, at exit neither.
   */
  constructor(out: Writable, options: LogSinkOptions = {}) {
    const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    if (!Number.isInteger(maxBufferedBytes) || maxBufferedBytes < 0) {
      throw new TypeError(`Expected \`maxBufferedBytes\` to be an integer >= 0, got \`${maxBufferedBytes}\``);
    }
    this.#out = out;
    this.#maxBufferedBytes = maxBufferedBytes;
    // A closed pipe (EPIPE) or any other write error: the lines that follow have nowhere to go.
    out.on('error', () => {
      this.#broken = true;
    });
  }

  /** Lines dropped so far: the reader was too slow or gone. */
  get dropped(): number {
    return this.#dropped;
  }

  write(line: string): void {
    if (this.#broken || this.#out.writableLength > this.#maxBufferedBytes) {
      this.#dropped += 1;
      return;
    }
    this.#out.write(line);
  }

  /**
   * Resolves true once every accepted line has been handed to the reader,
   * false when `timeoutMs` passes first (the lines still waiting are lost
   * when the process exits).
   */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#broken) return Promise.resolve(false);
    if (this.#out.writableLength === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      // Writes complete in order: the callback of an empty one means all before it are done.
      this.#out.write('', (error) => {
        clearTimeout(timer);
        resolve(!error && !this.#broken);
      });
    });
  }
}

let stdout: LogSink | undefined;

/** The process's one standard-output sink (shared: it counts every line the process drops). */
export function stdoutSink(): LogSink {
  stdout ??= new LogSink(process.stdout);
  return stdout;
}
