import { createHmac } from 'node:crypto';

import { describe, expect, test } from 'vitest';

import { StreamTokens } from '../../server/engine/security/stream-tokens.js';

const SECRET = 'unit-secret-that-is-at-least-32-characters';
const KIND = 'petCreation';
const TRACE = 'a'.repeat(32);
const EPOCH = Date.UTC(2030, 0, 1);
const tokens = new StreamTokens({ secret: SECRET, ttlSeconds: 60, now: () => EPOCH });

/** A token of any shape carrying a genuine signature of its first parts: only the format can refuse it. */
const signed = (body: string) =>
  `${body}.${createHmac('sha256', SECRET).update(body).digest().toString('base64url')}`;

describe('stream tokens: a genuine signature does not make a malformed token valid', () => {
  const expiry = String(EPOCH / 1000 + 60);

  test('the signing here is the server’s own: a well-formed body verifies', () => {
    expect(signed(`v2.${KIND}.${TRACE}.${expiry}`)).toBe(tokens.issue(KIND, TRACE));
  });

  test.each([
    ['another version', `v3.${KIND}.${TRACE}.${expiry}`],
    ['an empty kind', `v2..${TRACE}.${expiry}`],
    ['a kind starting with a digit', `v2.1${KIND}.${TRACE}.${expiry}`],
    ['a kind with a dash', `v2.pet-creation.${TRACE}.${expiry}`],
    ['a kind with a character after it', `v2.${KIND}-.${TRACE}.${expiry}`],
    ['an empty trace id', `v2.${KIND}..${expiry}`],
    ['an expiry with a sign', `v2.${KIND}.${TRACE}.+${expiry}`],
    ['an expiry with a letter before it', `v2.${KIND}.${TRACE}.x${expiry}`],
    ['an expiry with a letter after it', `v2.${KIND}.${TRACE}.${expiry}x`],
    ['an expiry in exponent form', `v2.${KIND}.${TRACE}.19e8`],
  ])('%s is malformed', (_label, body) => {
    expect(tokens.verify(KIND, TRACE, signed(body))).toBe('malformed');
    expect(tokens.verify(null, TRACE, signed(body))).toBe('malformed');
  });

  test('a sixth part after a valid token is malformed', () => {
    const token = tokens.issue(KIND, TRACE);
    expect(tokens.verify(KIND, TRACE, `${token}.extra`)).toBe('malformed');
    expect(tokens.verify(KIND, TRACE, `${token}.`)).toBe('malformed');
  });
});

describe('stream tokens: kinds', () => {
  test('a kind that cannot be issued is named in the error', () => {
    expect(() => tokens.issue('pet-creation', TRACE)).toThrow(
      new TypeError('Expected a workflow kind, got `pet-creation`'),
    );
  });

  test('kindOf names the kind of a token of five parts and this version only', () => {
    const expiry = String(EPOCH / 1000 + 60);
    expect(tokens.kindOf(signed(`v2.${KIND}.${TRACE}.${expiry}`))).toBe(KIND);
    expect(tokens.kindOf(`v2.${KIND}.${TRACE}.${expiry}`)).toBeNull();
    expect(tokens.kindOf(`${signed(`v2.${KIND}.${TRACE}.${expiry}`)}.extra`)).toBeNull();
    expect(tokens.kindOf(signed(`v3.${KIND}.${TRACE}.${expiry}`))).toBeNull();
  });
});
