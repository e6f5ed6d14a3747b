/**
 * When a stream token (`v2.<kind>.<traceId>.<expiry>.<signature>`) says it
 * expires, in ms since the epoch; null for what is not shaped as one. Not a
 * verification: a client reads it to refresh in time, the server checks it.
 */
export function streamTokenExpiry(token: string): number | null {
  const parts = token.split('.');
  const expiry = parts[3] ?? '';
  return parts.length === 5 && /^\d{1,15}$/.test(expiry) ? Number(expiry) * 1000 : null;
}
