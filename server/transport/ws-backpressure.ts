import type { WebSocket } from 'ws';

/** How a slow consumer's connection is closed; it may reconnect and resume from its last event id. */
export const SLOW_CONSUMER_CLOSE = { code: 4008, reason: 'slow consumer' } as const;

/** Past this multiple of the bound a connection is closed at once, whatever the grace time. */
const HARD_LIMIT_FACTOR = 4;
/** A slow consumer's close frame queues behind its unsent data; the socket is dropped if it is still there after this. */
const CLOSE_HANDSHAKE_MS = 5000;

export type OutgoingBufferOptions = {
  /** Unsent bytes (`bufferedAmount`) above which the connection is behind. */
  readonly maxBufferedBytes: number;
  /** How long it may stay behind before it is closed; 0 closes it at once. */
  readonly graceMs: number;
  /** Called once, when the connection is closed as a slow consumer. */
  readonly onSlowConsumer?: (bufferedAmount: number) => void;
};

type Data = Parameters<WebSocket['send']>[0];
type SendOptions = Parameters<WebSocket['send']>[1];
type SendCallback = (error?: Error) => void;

/**
 * Bounds what the server holds for one connection. Every send is followed
 * by a look at `bufferedAmount` (bytes the kernel has not taken yet, i.e.
 * the client is not reading): a connection that stays above the bound for
 * `graceMs`, or goes far above it, is closed with 4008 "slow consumer".
 * Sends never wait, so other connections are not slowed down.
 */
export function boundOutgoingBuffer(client: WebSocket, options: OutgoingBufferOptions): void {
  const { maxBufferedBytes, graceMs } = options;
  if (!Number.isInteger(maxBufferedBytes) || maxBufferedBytes < 1) {
    throw new TypeError(`Expected \`maxBufferedBytes\` to be an integer >= 1, got \`${maxBufferedBytes}\``);
  }
  if (!Number.isInteger(graceMs) || graceMs < 0) {
    throw new TypeError(`Expected \`graceMs\` to be an integer >= 0, got \`${graceMs}\``);
  }
  const send = client.send.bind(client);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const cut = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    options.onSlowConsumer?.(client.bufferedAmount);
    // Sends stop here: the adapter sends only while the socket is open.
    client.close(SLOW_CONSUMER_CLOSE.code, SLOW_CONSUMER_CLOSE.reason);
    setTimeout(() => client.terminate(), CLOSE_HANDSHAKE_MS).unref();
  };

  const check = () => {
    const buffered = client.bufferedAmount;
    if (buffered <= maxBufferedBytes || closed) return;
    if (graceMs === 0 || buffered > maxBufferedBytes * HARD_LIMIT_FACTOR) {
      cut();
      return;
    }
    timer ??= setTimeout(() => {
      timer = undefined;
      if (client.bufferedAmount > maxBufferedBytes) cut();
    }, graceMs);
  };

  client.send = function boundedSend(
    data: Data,
    optionsOrCallback?: SendOptions | SendCallback,
    callback?: SendCallback,
  ) {
    if (typeof optionsOrCallback === 'function') send(data, optionsOrCallback);
    else send(data, optionsOrCallback ?? {}, callback);
    check();
  };
  client.once('close', () => {
    closed = true;
    clearTimeout(timer);
  });
}
