export type OriginDecision = 'allowed' | 'forbidden';

/**
 * Whether a WebSocket upgrade may proceed, from its `Origin` header.
 * Browsers always send one, so a page on a foreign site cannot open a
 * socket with the user's network position; clients that are not browsers
 * send none and are let through (API keys are the control for them).
 * An empty allow-list allows every origin.
 */
export function checkOrigin(origin: string | undefined, allowed: readonly string[]): OriginDecision {
  if (allowed.length === 0 || origin === undefined) return 'allowed';
  let normalized: string;
  try {
    normalized = new URL(origin).origin;
  } catch {
    return 'forbidden';
  }
  return allowed.includes(normalized) ? 'allowed' : 'forbidden';
}
