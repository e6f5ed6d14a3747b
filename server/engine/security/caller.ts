import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

import type { ApiKeys } from './api-keys.js';

/** Who is calling: what limits and API-key checks are keyed on. */
export type Caller = {
  /** How the call arrived: WebSocket calls ride on a connection whose key was checked when it opened. */
  readonly via: 'http' | 'ws' | 'in-process';
  /** The socket's remote address; proxy headers are not trusted. */
  readonly ip: string;
  /** The API key presented (HTTP header or WebSocket connection params), if any. */
  readonly apiKey: string | null;
};

/** Code running inside the service (tests, server-side callers): no address, no key. */
export const IN_PROCESS_CALLER: Caller = { via: 'in-process', ip: 'in-process', apiKey: null };

/** `authorization: Bearer <key>` or `x-api-key: <key>`. */
export function apiKeyFromHeaders(headers: IncomingHttpHeaders): string | null {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  if (bearer?.[1]) return bearer[1];
  const header = headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  const trimmed = key?.trim();
  if (!trimmed) return null;
  return trimmed;
}

/** The caller of an HTTP request, or of a WebSocket connection (whose connection params win over headers). */
export function callerFromRequest(
  req: IncomingMessage,
  via: 'http' | 'ws',
  connectionParams?: Readonly<Record<string, string | undefined>> | null,
): Caller {
  return {
    via,
    ip: req.socket.remoteAddress ?? 'unknown',
    apiKey: connectionParams?.['apiKey'] ?? apiKeyFromHeaders(req.headers),
  };
}

/**
 * What per-client limits are keyed on: the API key when a valid one was
 * presented (a client behind a shared address keeps its own budget), else
 * the address. Invalid keys never count, so inventing keys buys nothing.
 */
export function clientKey(caller: Caller, apiKeys: ApiKeys): string {
  if (caller.apiKey && apiKeys.check(caller.apiKey) === 'ok') {
    return `key:${createHash('sha256').update(caller.apiKey).digest('base64url').slice(0, 16)}`;
  }
  return `ip:${caller.ip}`;
}
