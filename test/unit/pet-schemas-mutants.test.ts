import { describe, expect, test } from 'vitest';

import { PetInputSchema, PetSchema, ProfileSchema, type Profile } from '../../shared/pet.js';
import { createTestCaller } from '../support/caller.js';
import { rejection } from '../support/errors.js';
import { buddy } from '../support/pets.js';

describe('pet input and stored pets: every documented value', () => {
  test.each(['dog', 'cat', 'bird', 'other'])('species %s is accepted', (species) => {
    expect(PetInputSchema.parse({ ...buddy, species })).toMatchObject({ species });
  });

  test.each(['', 'Dog', 'fish'])('species %j is refused', (species) => {
    expect(PetInputSchema.safeParse({ ...buddy, species }).success).toBe(false);
  });

  test.each(['new', 'in_quarantine', 'healthy', 'ill', 'adopted'])(
    'a stored pet with status %s reads back',
    (status) => {
      const pet = {
        id: '1',
        ...buddy,
        status,
        createdAt: '2030-01-01T00:00:00.000Z',
        updatedAt: '2030-01-01T00:00:00.000Z',
      };
      expect(PetSchema.parse(pet)).toEqual(pet);
    },
  );
});

describe('refused characters, as the shared schema reports them', () => {
  test('one custom issue per broken rule, on the field, with the rule’s message', () => {
    const result = PetInputSchema.safeParse({ ...buddy, name: 'Re\u0007x', symptoms: ['ok', '\u200Dcough'] });
    expect(result.error?.issues).toEqual([
      { code: 'custom', path: ['name'], message: 'must not contain control characters' },
      {
        code: 'custom',
        path: ['symptoms', 1],
        message: 'may contain a zero-width joiner or non-joiner only between two visible characters',
      },
    ]);
  });
});

describe('pet ids', () => {
  test('the tenth pet is found by its two-digit id; ids of 64 characters are looked up, longer ones refused', async () => {
    await using t = createTestCaller();
    for (let i = 0; i < 10; i += 1) await t.caller.pets.create({ ...buddy, name: `Buddy ${i + 1}` });
    expect(await t.caller.pets.get({ id: '10' })).toMatchObject({ id: '10', name: 'Buddy 10' });
    expect((await rejection(t.caller.pets.get({ id: '9'.repeat(64) }))).code).toBe('NOT_FOUND');
    expect((await rejection(t.caller.pets.get({ id: '9'.repeat(65) }))).code).toBe('BAD_REQUEST');
    expect((await rejection(t.caller.pets.get({ id: '' }))).code).toBe('BAD_REQUEST');
  });
});

describe('the AI profile: both sides of each bound (docs/ai-enrichment.md)', () => {
  const profile: Profile = {
    bio: 'A calm dog.',
    breedGuess: 'Labrador mix',
    temperamentTags: ['calm', 'curious', 'gentle'],
    adopterHints: 'A quiet home.',
  };
  const accepts = (change: Partial<Profile>) => ProfileSchema.safeParse({ ...profile, ...change }).success;

  test('text fields: 1 character up to their limit', () => {
    for (const [field, max] of [
      ['bio', 2000],
      ['breedGuess', 200],
      ['adopterHints', 2000],
    ] as const) {
      expect({ field, empty: accepts({ [field]: '' }) }).toEqual({ field, empty: false });
      expect({ field, one: accepts({ [field]: 'x' }) }).toEqual({ field, one: true });
      expect({ field, max: accepts({ [field]: 'x'.repeat(max) }) }).toEqual({ field, max: true });
      expect({ field, over: accepts({ [field]: 'x'.repeat(max + 1) }) }).toEqual({ field, over: false });
    }
  });

  test('3 to 5 temperament tags of 1 to 50 characters', () => {
    const tags = (count: number, length = 4) => Array.from({ length: count }, () => 't'.repeat(length));
    expect([2, 3, 4, 5, 6].map((count) => accepts({ temperamentTags: tags(count) }))).toEqual([
      false,
      true,
      true,
      true,
      false,
    ]);
    expect([0, 1, 50, 51].map((length) => accepts({ temperamentTags: tags(3, length) }))).toEqual([
      false,
      true,
      true,
      false,
    ]);
  });
});
