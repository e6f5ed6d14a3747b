/**
 * A signal that aborts with a `TimeoutError` after `timeoutMs`, on a timer
 * that holds it until it fires or `clear` is called. Not
 * `AbortSignal.timeout()`: combined with `AbortSignal.any()`, a timeout
 * signal nothing else refers to can be garbage-collected before it fires,
 * and the combined signal then never aborts.
 */
export function timeoutSignal(
  timeoutMs: number,
  message = 'The operation timed out',
): { readonly signal: AbortSignal; readonly clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(message, 'TimeoutError')), timeoutMs);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}
