import { describe, expect, test } from 'vitest';

import { StreamTokens } from '../../server/engine/security/stream-tokens.js';

const SECRET = 'unit-secret-that-is-at-least-32-characters';
const OTHER_SECRET = 'other-secret-that-is-at-least-32-characters';
const KIND = 'petCreation';
const OTHER_KIND = 'adoption';
const TRACE = 'a'.repeat(32);
const OTHER_TRACE = 'b'.repeat(32);
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** A whole second, so that TTL boundaries fall on exact milliseconds. */
const EPOCH = Date.UTC(2030, 0, 1);

function split(token: string): { body: string; signature: string } {
  const cut = token.lastIndexOf('.');
  return { body: token.slice(0, cut), signature: token.slice(cut + 1) };
}

const decoded = (signature: string) => Buffer.from(signature, 'base64url');

describe('stream tokens: one spelling per token', () => {
  // A fixed clock: the same tokens, so the same signatures, on every run.
  const tokens = new StreamTokens({ secret: SECRET, ttlSeconds: 60, now: () => EPOCH });

  test('a token verifies for its workflow only', () => {
    const token = tokens.issue(KIND, TRACE);
    expect(token).toMatch(/^v2\.petCreation\.a{32}\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(tokens.verify(KIND, TRACE, token)).toBe('ok');
    expect(tokens.verify(KIND, OTHER_TRACE, token)).toBe('other-workflow');
  });

  test('a token verifies for its kind only, or for any kind when none is expected', () => {
    const token = tokens.issue(KIND, TRACE);
    expect(tokens.verify(OTHER_KIND, TRACE, token)).toBe('wrong-kind');
    expect(tokens.verify(null, TRACE, token)).toBe('ok');
    // Another workflow is told apart before the kind is compared.
    expect(tokens.verify(OTHER_KIND, OTHER_TRACE, token)).toBe('other-workflow');
    expect(tokens.kindOf(token)).toBe(KIND);
    expect(tokens.kindOf(tokens.issue(OTHER_KIND, TRACE))).toBe(OTHER_KIND);
    expect(tokens.kindOf(`v2.1kind.${TRACE}.1.sig`)).toBeNull();
    expect(tokens.kindOf(`v1.${TRACE}.1.sig`)).toBeNull();
    expect(tokens.kindOf(undefined)).toBeNull();
  });

  test.each(['', 'pet-creation', '1pet', 'pet.creation'])('a kind spelled %j cannot be issued', (kind) => {
    expect(() => tokens.issue(kind, TRACE)).toThrow(TypeError);
  });

  test('of the 64 possible last characters only the canonical one verifies; those with spare bits set are malformed', () => {
    const token = tokens.issue(KIND, TRACE);
    const { body, signature } = split(token);
    const canonical = signature.slice(-1);
    // 32 bytes use 4 of the last character's 6 bits; the 2 low bits are spare (zero).
    expect(BASE64URL.indexOf(canonical) % 4).toBe(0);
    const aliases: string[] = [];
    for (const c of BASE64URL) {
      const variant = signature.slice(0, -1) + c;
      if (c !== canonical && decoded(variant).equals(decoded(signature))) aliases.push(c);
      const expected = BASE64URL.indexOf(c) % 4 !== 0 ? 'malformed' : c === canonical ? 'ok' : 'invalid';
      expect({ c, check: tokens.verify(KIND, TRACE, `${body}.${variant}`) }).toEqual({ c, check: expected });
    }
    // The three spellings that decode to the very same signature.
    expect(aliases).toHaveLength(3);
  });

  test('other spellings the decoder reads as the same bytes are malformed', () => {
    // A trace id whose signature has a character that standard base64 spells differently.
    const token = Array.from({ length: 100 }, (_, i) =>
      tokens.issue(KIND, i.toString(16).padStart(32, '0')),
    ).find((t) => /[-_]/.test(split(t).signature));
    if (!token) throw new Error('no signature with - or _ among 100');
    const traceId = token.split('.')[2] ?? '';
    const { body, signature } = split(token);
    const spellings = [
      signature.replace('-', '+').replace('_', '/'),
      `${signature}=`,
      `${signature.slice(0, 20)} ${signature.slice(20)}`,
      `${signature.slice(0, 20)}\n${signature.slice(20)}`,
    ];
    for (const spelling of spellings) {
      expect(decoded(spelling).equals(decoded(signature))).toBe(true);
      expect(tokens.verify(KIND, traceId, `${body}.${spelling}`)).toBe('malformed');
    }
    expect(tokens.verify(KIND, traceId, token)).toBe('ok');
  });

  test('a truncated, empty, one-character or extended signature is malformed', () => {
    const { body, signature } = split(tokens.issue(KIND, TRACE));
    const variants = {
      empty: '',
      'one character': signature.slice(0, 1),
      'one character A': 'A',
      'four characters (3 bytes)': signature.slice(0, 4),
      'one character short': signature.slice(0, -1),
      'three characters short (30 bytes, canonical)': signature.slice(0, -3),
      'one character more': `${signature}A`,
      'four characters more (35 bytes)': `${signature}AAAA`,
      doubled: signature + signature,
    };
    for (const [label, variant] of Object.entries(variants)) {
      expect({ label, check: tokens.verify(KIND, TRACE, `${body}.${variant}`) }).toEqual({
        label,
        check: 'malformed',
      });
    }
  });

  test('a signature moved to another body, or any other byte string, is invalid', () => {
    const { body, signature } = split(tokens.issue(KIND, TRACE));
    const other = split(tokens.issue(KIND, OTHER_TRACE));
    const expiry = Number(body.split('.')[3]);
    expect(tokens.verify(KIND, OTHER_TRACE, `${other.body}.${signature}`)).toBe('invalid');
    expect(tokens.verify(KIND, TRACE, `v2.${KIND}.${TRACE}.${expiry + 3600}.${signature}`)).toBe('invalid');
    expect(tokens.verify(KIND, TRACE, `v2.${KIND}.${TRACE}.0${expiry}.${signature}`)).toBe('invalid');
    // The kind is signed: a signature moved to another kind's body is a forgery, not a wrong kind.
    expect(tokens.verify(OTHER_KIND, TRACE, `v2.${OTHER_KIND}.${TRACE}.${expiry}.${signature}`)).toBe(
      'invalid',
    );
    const flipped = Buffer.from(decoded(signature));
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(tokens.verify(KIND, TRACE, `${body}.${flipped.toString('base64url')}`)).toBe('invalid');
    expect(tokens.verify(KIND, TRACE, `${body}.${Buffer.alloc(32).toString('base64url')}`)).toBe('invalid');
    const foreign = new StreamTokens({ secret: OTHER_SECRET, ttlSeconds: 60, now: () => EPOCH });
    expect(tokens.verify(KIND, TRACE, foreign.issue(KIND, TRACE))).toBe('invalid');
  });

  test('tokens of a previous secret verify; new tokens use the current one', () => {
    const previous = new StreamTokens({ secret: OTHER_SECRET, ttlSeconds: 60, now: () => EPOCH });
    const rotated = new StreamTokens({
      secret: SECRET,
      previousSecrets: [OTHER_SECRET],
      ttlSeconds: 60,
      now: () => EPOCH,
    });
    expect(rotated.verify(KIND, TRACE, previous.issue(KIND, TRACE))).toBe('ok');
    expect(previous.verify(KIND, TRACE, rotated.issue(KIND, TRACE))).toBe('invalid');
    expect(tokens.verify(KIND, TRACE, rotated.issue(KIND, TRACE))).toBe('ok');
  });

  test.each([
    '',
    'v2',
    'v2.x.1',
    `v1.${TRACE}.1.sig`,
    `v1.${KIND}.${TRACE}.1.sig`,
    `v2.${TRACE}.1.sig`,
    `v2.${KIND}.${TRACE}.12a.sig`,
    `v2.${KIND}..1.sig`,
    `v2..${TRACE}.1.sig`,
    `v2.pet-creation.${TRACE}.1.sig`,
    'v2.a.b.1.c.d',
  ])('a token shaped %j is malformed', (token) => {
    expect(tokens.verify(KIND, TRACE, token)).toBe(token === '' ? 'missing' : 'malformed');
  });
});

describe('stream tokens: lifetime', () => {
  function clockedTokens(ttlSeconds: number) {
    const clock = { now: EPOCH };
    return { clock, tokens: new StreamTokens({ secret: SECRET, ttlSeconds, now: () => clock.now }) };
  }

  test.each([1, 60, 86_400])(
    'issued on a whole second, a %i s token is valid until its TTL, not at it',
    (ttl) => {
      const { clock, tokens } = clockedTokens(ttl);
      const token = tokens.issue(KIND, TRACE);
      clock.now = EPOCH + ttl * 1000 - 1;
      expect(tokens.verify(KIND, TRACE, token)).toBe('ok');
      clock.now = EPOCH + ttl * 1000;
      expect(tokens.verify(KIND, TRACE, token)).toBe('expired');
    },
  );

  test.each([
    [1, 1],
    [1, 500],
    [1, 999],
    [60, 999],
  ])(
    'a %i s token issued %i ms into a second is valid for its whole TTL, and less than a second more',
    (ttl, offset) => {
      const { clock, tokens } = clockedTokens(ttl);
      const issuedAt = EPOCH + offset;
      clock.now = issuedAt;
      const token = tokens.issue(KIND, TRACE);
      expect(tokens.verify(KIND, TRACE, token)).toBe('ok');
      clock.now = issuedAt + ttl * 1000 - 1;
      expect(tokens.verify(KIND, TRACE, token)).toBe('ok');
      clock.now = EPOCH + ttl * 1000 + 1000;
      expect(tokens.verify(KIND, TRACE, token)).toBe('expired');
    },
  );

  test('expiry is checked after the signature: an expired forgery is invalid, not expired', () => {
    const { clock, tokens } = clockedTokens(1);
    const { body } = split(tokens.issue(KIND, TRACE));
    clock.now = EPOCH + 10_000;
    expect(tokens.verify(KIND, TRACE, `${body}.${Buffer.alloc(32).toString('base64url')}`)).toBe('invalid');
  });
});
