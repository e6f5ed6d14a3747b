import type http from 'node:http';

export type SseWriterOptions = {
  /** Quiet time after which a heartbeat comment is written, so proxies keep the stream open; 0 disables. */
  readonly heartbeatMs: number;
};

/**
 * Writes one `text/event-stream` response: `id:`/`event:`/`data:` frames,
 * heartbeat comments while nothing else is written, and backpressure (a
 * write waits for the socket to drain rather than buffering without bound).
 */
export class SseWriter {
  readonly #res: http.ServerResponse;
  readonly #heartbeatMs: number;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(res: http.ServerResponse, options: SseWriterOptions) {
    if (!Number.isInteger(options.heartbeatMs) || options.heartbeatMs < 0) {
      throw new TypeError(`Expected \`heartbeatMs\` to be an integer >= 0, got \`${options.heartbeatMs}\``);
    }
    this.#res = res;
    this.#heartbeatMs = options.heartbeatMs;
  }

  /** Sends the headers; the stream is open from here on. */
  open(): void {
    this.#res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise hold events back.
      'x-accel-buffering': 'no',
    });
    this.#res.flushHeaders();
    this.#armHeartbeat();
  }

  /** One event; `json` is its data as JSON text (one line: JSON.stringify escapes line breaks). */
  async event(frame: { readonly id: string; readonly event: string; readonly json: string }): Promise<void> {
    await this.#write(
      `id: ${oneLine(frame.id)}\nevent: ${oneLine(frame.event)}\ndata: ${oneLine(frame.json)}\n\n`,
    );
  }

  /** A comment line, ignored by EventSource clients. */
  async comment(text: string): Promise<void> {
    await this.#write(`: ${oneLine(text)}\n\n`);
  }

  end(): void {
    clearTimeout(this.#heartbeat);
    if (!this.#res.writableEnded) this.#res.end();
  }

  async #write(chunk: string): Promise<void> {
    if (this.#res.writableEnded || this.#res.destroyed) return;
    this.#armHeartbeat();
    if (this.#res.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#res.off('drain', done);
        this.#res.off('close', done);
        resolve();
      };
      this.#res.on('drain', done);
      this.#res.on('close', done);
    });
  }

  #armHeartbeat(): void {
    if (this.#heartbeatMs === 0) return;
    clearTimeout(this.#heartbeat);
    this.#heartbeat = setTimeout(() => void this.comment('heartbeat'), this.#heartbeatMs);
    this.#heartbeat.unref();
  }
}

/** Field values must not contain line breaks: they would end the field. */
const oneLine = (value: string) => value.replace(/[\r\n]+/g, ' ');
