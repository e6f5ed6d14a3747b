import type { WebSocket } from 'ws';

/** How a slow consumer's connection is closed; it may reconnect and resume from its last event id. */
export const SLOW_CONSUMER_CLOSE = { code: 4008, reason: 'slow consumer' } as const;

/** Past this multiple of the bound a connection is closed at once, whatever the grace time. */
const HARD_LIMIT_FACTOR = 4;
/** A slow consumer's close frame queues behind its unsent data; the socket is dropped if it is still there after this. */
const CLOSE_HANDSHAKE_MS = 5000;

const WEBSOCKET_OPEN = 1;

export type OutgoingBufferOptions = {
  /** Unsent bytes (`bufferedAmount`) above which the connection is behind. */
  readonly maxBufferedBytes: number;
  /** How long it may stay behind before it is closed; 0 closes it at once. */
  readonly graceMs: number;
  /** Called once, when the connection is closed as a slow consumer. */
  readonly onSlowConsumer?: (bufferedAmount: number) => void;
};

/** Sends a text frame if the connection is open; never waits. */
export type BoundedSend = (data: string) => void;

/**
 * Bounds what the server holds for one connection. Every send is followed
 * by a look at `bufferedAmount` (bytes the kernel has not taken yet, i.e.
 * the client is not reading): a connection that stays above the bound for
 * `graceMs`, or goes past `HARD_LIMIT_FACTOR` times it, is closed with
 * 4008 "slow consumer". Sends never wait, so one slow client does not slow
 * the others down; once the connection is closing, sends are dropped.
 */
export function boundedSend(client: WebSocket, options: OutgoingBufferOptions): BoundedSend {
  const { maxBufferedBytes, graceMs } = options;
  if (!Number.isInteger(maxBufferedBytes) || maxBufferedBytes < 1) {
    throw new TypeError(`Expected \`maxBufferedBytes\` to be an integer >= 1, got \`${maxBufferedBytes}\``);
  }
  if (!Number.isInteger(graceMs) || graceMs < 0) {
    throw new TypeError(`Expected \`graceMs\` to be an integer >= 0, got \`${graceMs}\``);
  }
  const hardLimit = maxBufferedBytes * HARD_LIMIT_FACTOR;
  let timer: NodeJS.Timeout | undefined;
  let cut = false;

  const cutOff = () => {
    if (cut) return;
    cut = true;
    clearTimeout(timer);
    options.onSlowConsumer?.(client.bufferedAmount);
    client.close(SLOW_CONSUMER_CLOSE.code, SLOW_CONSUMER_CLOSE.reason);
    setTimeout(() => client.terminate(), CLOSE_HANDSHAKE_MS).unref();
  };

  client.once('close', () => {
    cut = true;
    clearTimeout(timer);
  });

  return (data) => {
    if (client.readyState !== WEBSOCKET_OPEN) return;
    client.send(data);
    const buffered = client.bufferedAmount;
    if (buffered <= maxBufferedBytes || cut) return;
    if (graceMs === 0 || buffered > hardLimit) {
      cutOff();
      return;
    }
    timer ??= setTimeout(() => {
      timer = undefined;
      if (client.bufferedAmount > maxBufferedBytes) cutOff();
    }, graceMs);
  };
}
