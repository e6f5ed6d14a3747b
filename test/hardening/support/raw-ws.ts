import WebSocket from 'ws';

import { transformer } from '../../../shared/transformer.js';
import { createDeferred } from '../../../shared/deferred.js';

export type RawFrame = Record<string, unknown>;

/**
 * A bare `ws` connection speaking tRPC's wire format by hand, for what the
 * typed client would never send. Frames received are kept in order.
 */
export class RawSocket {
  readonly socket: WebSocket;
  readonly frames: RawFrame[] = [];
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>;
  readonly #waiters = new Set<() => void>();

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.socket = new WebSocket(url, options);
    this.socket.on('message', (raw: Buffer) => {
      const text = raw.toString();
      this.frames.push(text === 'PING' || text === 'PONG' ? { text } : (JSON.parse(text) as RawFrame));
      for (const wake of this.#waiters) wake();
    });
    // Errors show up as a close; they must not crash the test process.
    this.socket.on('error', () => {});
    const closed = createDeferred<{ code: number; reason: string }>();
    this.socket.once('close', (code: number, reason: Buffer) => {
      closed.resolve({ code, reason: reason.toString() });
      for (const wake of this.#waiters) wake();
    });
    this.closed = closed.promise;
  }

  /** Resolves once open; rejects with the HTTP status when the upgrade is refused. */
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState === WebSocket.OPEN) return resolve();
      this.socket.once('open', () => resolve());
      this.socket.once('unexpected-response', (_req, res) => reject(new UpgradeRefused(res.statusCode ?? 0)));
      this.socket.once('close', () => reject(new Error('closed before open')));
    });
  }

  send(data: string | Buffer): void {
    this.socket.send(data);
  }

  /** Sends one tRPC call, its input serialized as the typed client would. */
  call(id: number, method: 'query' | 'mutation' | 'subscription', path: string, input: unknown): void {
    this.send(JSON.stringify({ id, method, params: { path, input: transformer.serialize(input) } }));
  }

  /** Resolves with the first frame (already received or to come) that matches. */
  async frame(match: (frame: RawFrame) => boolean): Promise<RawFrame> {
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error('socket closed before the frame came');
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }

  close(): void {
    this.socket.terminate();
  }
}

export class UpgradeRefused extends Error {
  override readonly name = 'UpgradeRefused';
  constructor(readonly status: number) {
    super(`upgrade refused with ${status}`);
  }
}

/** The error of an error frame (tRPC sends it through the transformer). */
export function errorOf(frame: RawFrame): { readonly message?: unknown; readonly code?: unknown } {
  const error = field(frame, 'error');
  const shape = field(error, 'json') ?? error;
  return { message: field(shape, 'message'), code: field(field(shape, 'data'), 'code') };
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
