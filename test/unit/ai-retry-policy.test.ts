import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { describe, expect, test } from 'vitest';

import { EnrichmentFailed } from '../../server/app/pet-shelter/pets/ai/profile-generator.js';
import {
  backoffMs,
  isRetryable,
  retryAfterMs,
  retryDelayMs,
} from '../../server/app/pet-shelter/pets/ai/retry-policy.js';

const httpError = (status: number, headers: Record<string, string> = {}) =>
  APIError.generate(status, { message: 'x' }, undefined, new Headers(headers));

describe('retry policy of model calls', () => {
  test.each([
    [408, true],
    [409, true],
    [429, true],
    [500, true],
    [503, true],
    [400, false],
    [401, false],
    [404, false],
    [422, false],
  ])('HTTP %i retryable: %s', (status, retryable) => {
    expect(isRetryable(httpError(status))).toBe(retryable);
  });

  test('the server can say so explicitly', () => {
    expect(isRetryable(httpError(400, { 'x-should-retry': 'true' }))).toBe(true);
    expect(isRetryable(httpError(503, { 'x-should-retry': 'false' }))).toBe(false);
  });

  test('lost connections and silences are retried; our own abort and bad answers are not', () => {
    expect(isRetryable(new APIConnectionError({ message: 'reset' }))).toBe(true);
    expect(isRetryable(new APIConnectionTimeoutError())).toBe(true);
    expect(isRetryable(new EnrichmentFailed('timeout', 'silent'))).toBe(true);
    expect(isRetryable(new EnrichmentFailed('connection', 'cut'))).toBe(true);
    expect(isRetryable(new APIUserAbortError())).toBe(false);
    for (const reason of ['malformed', 'invalid', 'refused', 'incomplete', 'aborted'] as const) {
      expect(isRetryable(new EnrichmentFailed(reason, reason))).toBe(false);
    }
  });

  test('Retry-After in seconds, as an HTTP date, and retry-after-ms', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': '0' }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Tue, 01 Jan 2030 00:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Mon, 31 Dec 2029 00:00:00 GMT' }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });

  test('backoff doubles from 500 ms up to 8 s, jittered down by at most a quarter', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, () => 0))).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect(backoffMs(1, () => 1)).toBe(375);
  });

  test('the delay: Retry-After first, else backoff; none when out of retries or budget', () => {
    const context = { retriesDone: 0, maxRetries: 2, remainingMs: 10_000, random: () => 0 };
    expect(retryDelayMs(httpError(429, { 'retry-after': '2' }), context)).toBe(2000);
    expect(retryDelayMs(httpError(500), context)).toBe(500);
    expect(retryDelayMs(httpError(500), { ...context, retriesDone: 1 })).toBe(1000);
    expect(retryDelayMs(httpError(500), { ...context, retriesDone: 2 })).toBeNull();
    expect(retryDelayMs(httpError(429, { 'retry-after': '60' }), context)).toBeNull();
    expect(retryDelayMs(httpError(400), context)).toBeNull();
  });
});
