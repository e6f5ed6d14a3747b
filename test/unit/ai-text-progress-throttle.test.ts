import { describe, expect, test } from 'vitest';

import { TextProgressThrottle } from '../../server/app/pet-shelter/pets/ai/text-progress-throttle.js';

describe('TextProgressThrottle: coalescing bio drafts', () => {
  test('the first piece at once, then at most one write per interval unless much text was added', () => {
    let now = 0;
    const throttle = new TextProgressThrottle({ minIntervalMs: 100, minChars: 50, now: () => now });
    const written: number[] = [];
    // 200 tokens of 3 characters, one every 5 ms: 1 s of streaming, 600 characters.
    let text = '';
    for (let token = 0; token < 200; token += 1) {
      text += 'abc';
      now = token * 5;
      if (throttle.shouldWrite(text)) written.push(text.length);
    }
    expect(written[0]).toBe(3);
    // Writes every 50 characters (faster than every 100 ms here): 600 / 50 = 12, never 200.
    expect(written.length).toBeLessThanOrEqual(13);
    expect(written.length).toBeGreaterThanOrEqual(10);
    for (const [i, length] of written.entries()) {
      if (i > 0) expect(length - (written[i - 1] ?? 0)).toBeGreaterThanOrEqual(3);
    }
  });

  test('a slow model: one write per interval', () => {
    let now = 0;
    const throttle = new TextProgressThrottle({ minIntervalMs: 100, minChars: 1000, now: () => now });
    const decisions = [0, 40, 80, 120, 160, 200, 240].map((t, i) => {
      now = t;
      return throttle.shouldWrite('x'.repeat(i + 1));
    });
    expect(decisions).toEqual([true, false, false, true, false, false, true]);
  });

  test('nothing new, nothing written', () => {
    const throttle = new TextProgressThrottle({ minIntervalMs: 0 });
    expect(throttle.shouldWrite('')).toBe(false);
    expect(throttle.shouldWrite('abc')).toBe(true);
    expect(throttle.shouldWrite('abc')).toBe(false);
  });

  test('options are validated', () => {
    expect(() => new TextProgressThrottle({ minIntervalMs: -1 })).toThrow(
      'Expected `minIntervalMs` to be a number ≥ 0, got `-1`',
    );
    expect(() => new TextProgressThrottle({ minChars: 0 })).toThrow(
      'Expected `minChars` to be an integer ≥ 1, got `0`',
    );
  });
});
