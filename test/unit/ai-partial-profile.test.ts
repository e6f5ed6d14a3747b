import { describe, expect, test } from 'vitest';

import { PartialProfile, type FieldUpdate } from '../../server/app/pet-shelter/pets/ai/partial-profile.js';
import { EnrichmentFailed } from '../../server/app/pet-shelter/pets/ai/profile-generator.js';
import type { Profile } from '../../shared/pet.js';

const PROFILE: Profile = {
  bio: 'Luna is a "gentle" cat who loves sunny windowsills.',
  breedGuess: 'Domestic shorthair',
  temperamentTags: ['calm', 'curious', 'gentle'],
  adopterHints: 'A quiet home suits her best.',
};

/** Feeds `text` in pieces of `size`; returns every update, in order. */
function feed(text: string, size: number, answer = new PartialProfile()): FieldUpdate[] {
  const updates: FieldUpdate[] = [];
  for (let i = 0; i < text.length; i += size) updates.push(...answer.push(text.slice(i, i + size)));
  return updates;
}

const fieldsOf = (updates: readonly FieldUpdate[]) =>
  updates.flatMap((u) => (u.type === 'field' ? [u.field] : []));

function failure(run: () => unknown): EnrichmentFailed {
  try {
    run();
  } catch (error) {
    if (error instanceof EnrichmentFailed) return error;
    throw error;
  }
  throw new Error('expected EnrichmentFailed');
}

describe('PartialProfile: following a streamed JSON answer', () => {
  test.each([1, 3, 17, 1000])(
    'pieces of %i characters: each field once, in order, then the whole profile',
    (size) => {
      const answer = new PartialProfile();
      const streamed = feed(JSON.stringify(PROFILE, null, 2), size, answer);
      const { profile, updates } = answer.finish();
      const all = [...streamed, ...updates];
      expect(fieldsOf(all)).toEqual(['bio', 'breedGuess', 'temperamentTags', 'adopterHints']);
      expect(profile).toEqual(PROFILE);
      expect(all.filter((u) => u.type === 'field').map((u) => u.value)).toEqual(Object.values(PROFILE));
    },
  );

  test('a field is reported the moment the next value starts, not before', () => {
    const answer = new PartialProfile();
    expect(fieldsOf(answer.push('{"bio": "Luna is calm.", '))).toEqual([]);
    expect(fieldsOf(answer.push('"breedGuess": "Sia'))).toEqual(['bio']);
    expect(fieldsOf(answer.push('mese", "temperamentTags": ["a", "b", "c"]'))).toEqual(['breedGuess']);
    expect(fieldsOf(answer.push(', "adopterHints": "Quiet home."'))).toEqual(['temperamentTags']);
    expect(fieldsOf(answer.push('}'))).toEqual(['adopterHints']);
    expect(answer.finish().updates).toEqual([]);
  });

  test('bio drafts grow with the text and stop once the bio is complete', () => {
    const updates = feed(JSON.stringify(PROFILE), 5);
    const drafts = updates.flatMap((u) => (u.type === 'bio' ? [u.text] : []));
    expect(drafts.length).toBeGreaterThan(3);
    for (const [i, text] of drafts.entries()) {
      expect(PROFILE.bio.startsWith(text)).toBe(true);
      if (i > 0) expect(text.length).toBeGreaterThan(drafts[i - 1]?.length ?? 0);
    }
    const bioDone = updates.findIndex((u) => u.type === 'field' && u.field === 'bio');
    expect(updates.slice(bioDone).some((u) => u.type === 'bio')).toBe(false);
  });

  test('fields completed out of order wait for the ones before them', () => {
    const answer = new PartialProfile();
    const text = JSON.stringify({
      adopterHints: PROFILE.adopterHints,
      temperamentTags: PROFILE.temperamentTags,
      bio: PROFILE.bio,
      breedGuess: PROFILE.breedGuess,
    });
    // Into the breedGuess value: bio is complete, and so are the two fields the model wrote first.
    const cut = text.indexOf('"breedGuess":"') + '"breedGuess":"'.length + 3;
    expect(fieldsOf(answer.push(text.slice(0, cut)))).toEqual(['bio']);
    const after = fieldsOf([...answer.push(text.slice(cut)), ...answer.finish().updates]);
    expect(after).toEqual(['breedGuess', 'temperamentTags', 'adopterHints']);
  });

  test.each([
    ['not JSON', 'Sure! {"bio": "x"}', 'malformed'],
    ['a JSON array', '["bio"]', 'malformed'],
    [
      'a wrong type, as soon as the field is complete',
      '{"bio": "ok", "breedGuess": 42, "temperamentTags": ["',
      'invalid',
    ],
    ['an unknown key', '{"bio": "ok", "mood": "happy", "breedGuess": "', 'invalid'],
    [
      'too few tags',
      '{"bio": "ok", "breedGuess": "x", "temperamentTags": ["a"], "adopterHints": "',
      'invalid',
    ],
  ])('fails at once on %s', (_, text, reason) => {
    expect(failure(() => feed(text, 4)).reason).toBe(reason);
  });

  test.each([
    ['an unfinished answer', JSON.stringify(PROFILE).slice(0, -5), 'malformed'],
    ['a missing field', JSON.stringify({ ...PROFILE, adopterHints: undefined }), 'invalid'],
    ['text after the object', `${JSON.stringify(PROFILE)} Hope this helps!`, 'malformed'],
    [
      'a repeated key that changes a reported field',
      '{"bio": "a", "breedGuess": "b", "bio": "c", "temperamentTags": ["x","y","z"], "adopterHints": "h"}',
      'invalid',
    ],
  ])('finish fails on %s', (_, text, reason) => {
    const answer = new PartialProfile();
    const streamed = (() => {
      try {
        return feed(text, 7, answer);
      } catch (error) {
        return error;
      }
    })();
    expect(streamed).not.toBeInstanceOf(Error);
    expect(failure(() => answer.finish()).reason).toBe(reason);
  });

  test('a runaway bio fails before it grows past the profile limit', () => {
    const error = failure(() => feed(`{"bio": "${'la '.repeat(1000)}`, 50));
    expect(error.reason).toBe('invalid');
    expect(error.message).toMatch(/bio is longer than 2000/);
  });
});
