import { describe, expect, test } from 'vitest';

import { buddy, max } from '../support/pets.js';
import { createAndRead, expectRefused } from '../support/pet-input.js';

const CONTROL = 'must not contain control characters';
const SURROGATE = 'must be well-formed Unicode';
const REPLACEMENT = 'must not contain U+FFFD, the replacement character (the text was not valid UTF-8)';
const NONCHARACTER = 'must not contain noncharacters (U+FDD0-U+FDEF, or U+FFFE/U+FFFF in any plane)';
const PRIVATE_USE = 'must not contain private-use characters';
const INVISIBLE = 'must not contain invisible or text-direction characters';
const JOINER = 'may contain a zero-width joiner or non-joiner only between two visible characters';
const SELECTOR = 'may contain a variation selector only right after a visible character, one at most';
const IDEOGRAPHIC_SELECTOR =
  'may contain an ideographic variation selector (U+E0100-U+E01EF) only right after an ideograph';

describe('names and symptoms: what people write is kept', () => {
  test.each([
    ['an emoji ZWJ sequence with a variation selector', 'Doc 👩‍⚕️'],
    ['a ZWJ right after a variation selector', 'Blaze ❤️‍🔥'],
    ['a family emoji', '👨‍👩‍👧'],
    ['a skin-tone modifier', 'Thumbs 👍🏽'],
    ['a flag', 'Hana 🇯🇵'],
    ['a keycap', 'Number 1️⃣'],
    ['text presentation (VS15)', 'Smiley ☺︎'],
    ['accented Latin', 'Zoë Łucja Ñandú José'],
    ['Chinese', '小白'],
    ['Japanese', 'ポチ'],
    ['Korean', '바둑이'],
    ['Arabic', 'ليلى'],
    ['Hebrew', 'שלום'],
    ['Persian with a ZWNJ', 'خوش‌قدم'],
    ['Sinhala with a ZWJ after a virama', 'ශ්‍රී'],
    ['Devanagari with a ZWJ after a virama', 'क्‍ष'],
    ['an ideographic variation sequence', '葛\u{E0100}城'],
    ['Mongolian with a free variation selector', '\u1820\u180B\u1821'],
    ['a code point this server does not know yet', 'Rex \u{5FFFD}'],
  ])('%s: %s', async (_label, name) => {
    expect(await createAndRead({ ...max, name, symptoms: [name] })).toMatchObject({ name, symptoms: [name] });
  });

  test('names are stored NFC-normalised', async () => {
    expect(await createAndRead({ ...buddy, name: 'Jose\u0301' })).toMatchObject({ name: 'Jos\u00e9' });
  });
});

describe('names and symptoms: each kind of character that hides or garbles text is refused, naming the field', () => {
  const cases: [string, string, string[]][] = [
    ['BEL', 'Re\u0007x', [CONTROL]],
    ['a C1 control', 'Re\u0085x', [CONTROL]],
    ['a line separator', 'Re\u2028x', [CONTROL]],
    ['a paragraph separator', 'Re\u2029x', [CONTROL]],
    ['a lone high surrogate', 'Rex\uD800', [SURROGATE]],
    ['a lone low surrogate', '\uDC00Rex', [SURROGATE]],
    ['U+FFFD', 'Re\uFFFDx', [REPLACEMENT]],
    ['U+FDD0', 'Re\uFDD0x', [NONCHARACTER]],
    ['U+FDEF', 'Re\uFDEFx', [NONCHARACTER]],
    ['U+FFFE', 'Re\uFFFEx', [NONCHARACTER]],
    ['U+FFFF', 'Re\uFFFFx', [NONCHARACTER]],
    ['U+1FFFE', 'Re\u{1FFFE}x', [NONCHARACTER]],
    ['U+10FFFF', 'Re\u{10FFFF}x', [NONCHARACTER]],
    ['U+E000', 'Re\uE000x', [PRIVATE_USE]],
    ['U+F8FF', 'Re\uF8FFx', [PRIVATE_USE]],
    ['U+F0000', 'Re\u{F0000}x', [PRIVATE_USE]],
    ['U+10FFFD', 'Re\u{10FFFD}x', [PRIVATE_USE]],
    ['a soft hyphen', 'Re\u00ADx', [INVISIBLE]],
    ['a combining grapheme joiner', 'Re\u034Fx', [INVISIBLE]],
    ['an Arabic letter mark', 'Re\u061Cx', [INVISIBLE]],
    ['an Arabic number sign', '\u0600Rex', [INVISIBLE]],
    ['a Hangul choseong filler', 'Re\u115Fx', [INVISIBLE]],
    ['a Hangul jungseong filler', 'Re\u1160x', [INVISIBLE]],
    ['a name of one Hangul filler', '\u3164', [INVISIBLE]],
    ['a halfwidth Hangul filler', 'Re\uFFA0x', [INVISIBLE]],
    ['a Khmer inherent vowel', 'Re\u17B4x', [INVISIBLE]],
    ['another Khmer inherent vowel', 'Re\u17B5x', [INVISIBLE]],
    ['a Mongolian vowel separator', 'Re\u180Ex', [INVISIBLE]],
    ['a zero-width space', 'R\u200Bex', [INVISIBLE]],
    ['a left-to-right mark', 'Rex\u200E', [INVISIBLE]],
    ['a right-to-left override', 'Rex\u202Egod', [INVISIBLE]],
    ['a word joiner', 'Re\u2060x', [INVISIBLE]],
    ['a left-to-right isolate', 'Re\u2066x', [INVISIBLE]],
    ['a reserved default-ignorable code point', 'Re\u2065x', [INVISIBLE]],
    ['a byte-order mark', 'R\uFEFFex', [INVISIBLE]],
    ['an interlinear annotation anchor', 'Re\uFFF9x', [INVISIBLE]],
    ['a shorthand format control', 'Re\u{1BCA0}x', [INVISIBLE]],
    ['a musical format control', 'Re\u{1D173}x', [INVISIBLE]],
    [
      'tag characters spelling hidden text',
      'Rex\u{E0069}\u{E0067}\u{E006E}\u{E006F}\u{E0072}\u{E0065}',
      [INVISIBLE],
    ],
    [
      'a subdivision flag (tag sequence)',
      '🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}',
      [INVISIBLE],
    ],
    ['a leading ZWJ', '\u200DRex', [JOINER]],
    ['a trailing ZWJ', 'Rex\u200D', [JOINER]],
    ['a trailing ZWNJ', 'Rex\u200C', [JOINER]],
    ['two joiners in a row', 'Re\u200D\u200Cx', [JOINER]],
    ['a joiner next to a space', 'Rex \u200Dy', [JOINER]],
    ['a leading variation selector', '\uFE0FRex', [SELECTOR]],
    ['a variation selector after a space', 'Rex \uFE0F', [SELECTOR]],
    ['two variation selectors', 'Rex ❤\uFE0F\uFE0F', [SELECTOR]],
    ['a variation selector after a joiner', 'Re\u200D\uFE0Fx', [SELECTOR]],
    ['an ideographic variation selector after a letter', 'Rex\u{E0100}', [IDEOGRAPHIC_SELECTOR]],
    [
      'bytes hidden in variation selectors after an emoji',
      '😀\u{E0100}\u{E0101}\u{E0102}',
      [SELECTOR, IDEOGRAPHIC_SELECTOR],
    ],
  ];

  test.each(cases)('a name with %s is refused', async (_label, name, messages) => {
    await expectRefused({ ...buddy, name }, 'name', messages);
  });

  test.each(cases)('a symptom with %s is refused', async (_label, symptom, messages) => {
    await expectRefused({ ...max, symptoms: ['coughing', symptom] }, 'symptoms', messages);
  });
});
