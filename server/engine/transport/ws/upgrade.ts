import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** An upgrade refused: the HTTP status (4xx or 5xx) and, optionally, its reason phrase. */
export type WsRefusal = { readonly status: number; readonly reason?: string };

/** What the server knows when it decides on an upgrade. */
export type WsAdmissionState = {
  /** Connections open right now, this one not counted. */
  readonly connections: number;
};

/**
 * Decides on one upgrade request: null (or undefined) admits it, a
 * refusal answers it with that status and closes the socket.
 */
export type WsAdmit = (
  req: IncomingMessage,
  state: WsAdmissionState,
) => WsRefusal | null | undefined | Promise<WsRefusal | null | undefined>;

/**
 * Runs `admit` on an upgrade request, then either hands the socket to
 * `accept` or answers with the refusal. An `admit` that throws refuses
 * with 500 and is reported to `onFailure`.
 */
export async function admitUpgrade(
  socket: Duplex,
  decide: () => ReturnType<WsAdmit>,
  handlers: { readonly accept: () => void; readonly onFailure: (cause: unknown) => void },
): Promise<void> {
  // The HTTP server stops watching a socket it hands over for an upgrade: a
  // peer that resets it now must not become an uncaught error.
  const onError = () => socket.destroy();
  socket.on('error', onError);
  let refusal: WsRefusal | null | undefined;
  try {
    const verdict = decide();
    refusal = verdict instanceof Promise ? await verdict : verdict;
  } catch (cause) {
    handlers.onFailure(cause);
    refusal = { status: 500 };
  }
  if (socket.destroyed) return;
  if (refusal) {
    refuse(socket, refusal);
    return;
  }
  socket.off('error', onError);
  handlers.accept();
}

function refuse(socket: Duplex, refusal: WsRefusal): void {
  const status =
    Number.isInteger(refusal.status) && refusal.status >= 400 && refusal.status <= 599 ? refusal.status : 500;
  const reason = (refusal.reason ?? STATUS_CODES[status] ?? 'Refused').replace(/[^\t\x20-\x7e]/g, '');
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
