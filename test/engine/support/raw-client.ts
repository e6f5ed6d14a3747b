import WebSocket from 'ws';

import { transformer } from '../../../shared/transformer.js';

/**
 * A bare `ws` client that keeps the text of every frame it receives, in
 * order; its close is kept as a last entry `#close <code>`.
 */
export class RawClient {
  readonly socket: WebSocket;
  readonly texts: string[] = [];
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>;
  readonly #waiters = new Set<() => void>();

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.socket = new WebSocket(url, options);
    this.socket.on('message', (raw: Buffer) => {
      this.texts.push(raw.toString());
      this.#wake();
    });
    // Errors show up as a close; they must not crash the test process.
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      this.socket.once('close', (code: number, reason: Buffer) => {
        this.texts.push(`#close ${code}`);
        resolve({ code, reason: reason.toString() });
        this.#wake();
      }),
    );
  }

  static async open(url: string, options?: WebSocket.ClientOptions): Promise<RawClient> {
    const client = new RawClient(url, options);
    await new Promise<void>((resolve, reject) => {
      client.socket.once('open', () => resolve());
      client.socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
      client.socket.once('error', (e) => reject(e));
      client.socket.once('close', () => reject(new Error('closed before open')));
    });
    return client;
  }

  send(data: string | Buffer | readonly unknown[] | Record<string, unknown>): void {
    if (typeof data === 'string' || Buffer.isBuffer(data)) this.socket.send(data);
    else this.socket.send(JSON.stringify(data));
  }

  /** Resolves once `predicate` holds for the frames so far; rejects if the socket closes first. */
  async waitFor(predicate: (texts: readonly string[]) => boolean): Promise<void> {
    for (;;) {
      if (predicate(this.texts)) return;
      if (this.socket.readyState === WebSocket.CLOSED)
        throw new Error(`closed while waiting; got ${this.texts.join('\n')}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }

  /** Waits for a frame containing `text`, counting only frames from index `from`. */
  waitForText(text: string, from = 0): Promise<void> {
    return this.waitFor((texts) => texts.slice(from).some((t) => t.includes(text)));
  }

  /**
   * Everything the server has already sent arrives before the answer to a
   * PING sent now: wait for that answer.
   */
  async barrier(): Promise<void> {
    const pongs = this.texts.filter((t) => t === 'PONG').length;
    this.socket.send('PING');
    await this.waitFor((texts) => texts.filter((t) => t === 'PONG').length > pongs);
  }

  terminate(): void {
    this.socket.terminate();
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }
}

/** A call as a tRPC client writes it, its input through the transformer. */
export function call(
  id: number | string | null,
  method: 'query' | 'mutation' | 'subscription',
  path: string,
  input?: unknown,
): Record<string, unknown> {
  return { id, method, params: { path, input: transformer.serialize(input) } };
}

/** The same call marked JSON-RPC 2.0 (`jsonrpc` right after `id`, as clients write it). */
export function jsonRpc(message: Record<string, unknown>): Record<string, unknown> {
  const { id, ...rest } = message;
  return { id, jsonrpc: '2.0', ...rest };
}

/** The same subscription resuming after `lastEventId`, as a reconnecting client sends it. */
export function resumingAfter(
  message: Record<string, unknown>,
  lastEventId: string,
): Record<string, unknown> {
  return { ...message, params: { ...(message['params'] as object), lastEventId } };
}

export function stop(id: number | string): Record<string, unknown> {
  return { id, method: 'subscription.stop' };
}
