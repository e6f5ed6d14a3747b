/**
 * When a failed model call is worth another attempt, and how long to wait
 * first: the server's `Retry-After` when it gives one, exponential backoff
 * with jitter otherwise.
 */
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';

import { EnrichmentFailed } from './profile-generator.js';

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 8000;

/** The response headers of an API error (the SDK types them loosely). */
function headersOf(error: { readonly headers?: unknown }): Headers | undefined {
  const headers = error.headers;
  return headers instanceof Headers ? headers : undefined;
}

/** Rate limits, server errors, lost connections and timeouts; never answers the model did give. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof EnrichmentFailed) return error.reason === 'timeout' || error.reason === 'connection';
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  if (!(error instanceof APIError) || error.status === undefined) return false;
  // The server may say so explicitly (OpenAI sends it).
  const explicit = headersOf(error)?.get('x-should-retry');
  if (explicit === 'true') return true;
  if (explicit === 'false') return false;
  return error.status === 408 || error.status === 409 || error.status === 429 || error.status >= 500;
}

/** The wait the server asked for, from `retry-after-ms` or `Retry-After` (seconds or an HTTP date). */
export function retryAfterMs(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms)) return Math.max(0, ms);
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff for the n-th retry (1-based), with up to 25 % jitter downwards. */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_BASE_MS * 2 ** (retry - 1), BACKOFF_MAX_MS);
  return Math.round(ceiling * (1 - random() * 0.25));
}

export type RetryContext = {
  /** Retries already made. */
  readonly retriesDone: number;
  readonly maxRetries: number;
  /** Time left of the whole call's budget. */
  readonly remainingMs: number;
  readonly now?: number;
  readonly random?: () => number;
};

/**
 * How long to wait before retrying, or null to give up: not retryable, no
 * retry left, or a wait that would not fit in what is left of the budget
 * (waiting only to be cut off would just delay the fallback).
 */
export function retryDelayMs(error: unknown, context: RetryContext): number | null {
  if (context.retriesDone >= context.maxRetries || !isRetryable(error)) return null;
  const headers = error instanceof APIError ? headersOf(error) : undefined;
  const delay = retryAfterMs(headers, context.now) ?? backoffMs(context.retriesDone + 1, context.random);
  return delay < context.remainingMs ? delay : null;
}
