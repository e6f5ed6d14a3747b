/**
 * Reconnect delay after the `attempt`-th failure (0-based): exponential from
 * 250 ms up to 10 s, with "equal jitter" (half fixed, half random) so that
 * clients cut off together do not all come back in the same instant.
 */
export function backoffWithJitter(attempt: number): number {
  const ceiling = Math.min(10_000, 250 * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
