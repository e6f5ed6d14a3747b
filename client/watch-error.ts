/** Server answers that a retry cannot change: a watch ends with them at once. */
export const TERMINAL_CODES = ['UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_REQUEST'] as const;
export type TerminalCode = (typeof TERMINAL_CODES)[number];

/**
 * Why a watch ended without the workflow's finished event:
 * - `UNAUTHORIZED`: the stream token is missing, malformed, forged or expired;
 * - `FORBIDDEN`: the stream token belongs to another workflow;
 * - `NOT_FOUND`: no such workflow (unknown trace id, or its retention has passed);
 * - `BAD_REQUEST`: the trace id or the resume point is malformed;
 * - `UNREACHABLE`: the server stayed out of reach for more than `maxRetries` attempts in a row.
 */
export type WatchErrorCode = TerminalCode | 'UNREACHABLE';

/** What the server said, when it said it: `{ code, httpStatus, path, fieldErrors }` for tRPC errors. */
export type WatchErrorData = Readonly<Record<string, unknown>> | null;

/** The terminal error of a watch, with a stable code. */
export class WatchError extends Error {
  override readonly name = 'WatchError';
  readonly code: WatchErrorCode;
  /** The server's error data (`fieldErrors` names each bad input field); null when the server did not answer. */
  readonly data: WatchErrorData;

  constructor(
    code: WatchErrorCode,
    message: string,
    options: { readonly cause?: unknown; readonly data?: WatchErrorData } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.data = options.data ?? null;
  }
}

/** The `data` of a tRPC error, if `error` is one. */
export function errorData(error: unknown): WatchErrorData {
  const data = field(error, 'data');
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : null;
}

const TERMINAL_HTTP_STATUS: ReadonlyMap<number, TerminalCode> = new Map([
  [400, 'BAD_REQUEST'],
  [401, 'UNAUTHORIZED'],
  [403, 'FORBIDDEN'],
  [404, 'NOT_FOUND'],
]);

/**
 * The terminal code of a subscription error, or null when retrying may help.
 * tRPC errors carry their code in `data.code`; an EventSource refused at the
 * HTTP level carries the status in its error event's `code`.
 */
export function terminalCode(error: unknown): TerminalCode | null {
  const code = field(field(error, 'data'), 'code');
  if (typeof code === 'string') return TERMINAL_CODES.find((c) => c === code) ?? null;
  const status = field(field(error, 'cause'), 'code');
  return typeof status === 'number' ? (TERMINAL_HTTP_STATUS.get(status) ?? null) : null;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
