import { createHmac } from 'node:crypto';

import { describe, expect, test } from 'vitest';

import { StreamTokens } from '../../server/security/stream-tokens.js';

const SECRET = 'unit-secret-that-is-at-least-32-characters';
const TRACE = 'a'.repeat(32);
const EPOCH = Date.UTC(2030, 0, 1);
const tokens = new StreamTokens({ secret: SECRET, ttlSeconds: 60, now: () => EPOCH });

/** A token of any shape carrying a genuine signature of its first parts: only the format can refuse it. */
const signed = (body: string) =>
  `${body}.${createHmac('sha256', SECRET).update(body).digest().toString('base64url')}`;

describe('stream tokens: a genuine signature does not make a malformed token valid', () => {
  const expiry = String(EPOCH / 1000 + 60);

  test('the signing here is the server’s own: a well-formed body verifies', () => {
    expect(signed(`v1.${TRACE}.${expiry}`)).toBe(tokens.issue(TRACE));
  });

  test.each([
    ['another version', `v2.${TRACE}.${expiry}`],
    ['an empty trace id', `v1..${expiry}`],
    ['an expiry with a sign', `v1.${TRACE}.+${expiry}`],
    ['an expiry with a letter before it', `v1.${TRACE}.x${expiry}`],
    ['an expiry with a letter after it', `v1.${TRACE}.${expiry}x`],
    ['an expiry in exponent form', `v1.${TRACE}.19e8`],
  ])('%s is malformed', (_label, body) => {
    expect(tokens.verify(TRACE, signed(body))).toBe('malformed');
  });

  test('a fifth part after a valid token is malformed', () => {
    const token = tokens.issue(TRACE);
    expect(tokens.verify(TRACE, `${token}.extra`)).toBe('malformed');
    expect(tokens.verify(TRACE, `${token}.`)).toBe('malformed');
  });
});
