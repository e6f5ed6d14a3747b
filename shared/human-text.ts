import { z } from 'zod';

/**
 * What a name or symptom may not contain, decided on Unicode properties, each
 * with the message the caller sees after the field's name. Unassigned code
 * points stay allowed: they are tomorrow's emoji, which a client may know
 * before the server's Unicode tables do.
 */
export const HUMAN_TEXT_RULES: readonly (readonly [pattern: RegExp, message: string])[] = [
  [/[\p{Cc}\p{Zl}\p{Zp}]/u, 'must not contain control characters'],
  [/\p{Cs}/u, 'must be well-formed Unicode'],
  // Bodies and frames are decoded as UTF-8: an invalid sequence arrives as U+FFFD.
  [/\uFFFD/u, 'must not contain U+FFFD, the replacement character (the text was not valid UTF-8)'],
  [
    /\p{Noncharacter_Code_Point}/u,
    'must not contain noncharacters (U+FDD0-U+FDEF, or U+FFFE/U+FFFF in any plane)',
  ],
  // No agreed meaning: each device shows its own glyph, or a box.
  [/\p{Co}/u, 'must not contain private-use characters'],
  // Format and default-ignorable characters display nothing themselves, or change how the
  // text around them displays (direction controls, tags, fillers); joiners and variation
  // selectors, which emoji and several scripts need, have their own rules below.
  [
    /(?![\u200C\u200D\p{Variation_Selector}])[\p{Cf}\p{Default_Ignorable_Code_Point}]/u,
    'must not contain invisible or text-direction characters',
  ],
  [
    /(?<![^\s\u200C\u200D])[\u200C\u200D]|[\u200C\u200D](?![^\s\u200C\u200D])/u,
    'may contain a zero-width joiner or non-joiner only between two visible characters',
  ],
  [
    /(?<![^\s\u200C\u200D\p{Variation_Selector}])\p{Variation_Selector}/u,
    'may contain a variation selector only right after a visible character, one at most',
  ],
  // Ideographic variation selectors (VS17-VS256) exist for ideographs only.
  [
    /(?<!\p{Ideographic})[\u{E0100}-\u{E01EF}]/u,
    'may contain an ideographic variation selector (U+E0100-U+E01EF) only right after an ideograph',
  ],
];

/**
 * Text a person typed: trimmed and NFC-normalised (one stored spelling for
 * what looks the same), between 1 and `max` UTF-16 code units, and free of
 * what `HUMAN_TEXT_RULES` refuses.
 */
export function humanText(max: number) {
  return z
    .string()
    .trim()
    .normalize('NFC')
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .check((ctx) => {
      for (const [pattern, message] of HUMAN_TEXT_RULES) {
        if (pattern.test(ctx.value)) ctx.issues.push({ code: 'custom', message, input: ctx.value });
      }
    });
}
