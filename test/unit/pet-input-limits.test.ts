import { describe, expect, test } from 'vitest';

import { PET_LIMITS, type Pet, type PetInput } from '../../shared/pet.js';
import { createAndRead, expectRefused } from '../support/pet-input.js';
import { buddy, max } from '../support/pets.js';

const symptoms = (count: number) => Array.from({ length: count }, (_, i) => `symptom ${i + 1}`);

describe('documented input limits: both sides of each bound', () => {
  test('the limits are the documented ones', () => {
    expect(PET_LIMITS).toEqual({
      nameMaxLength: 100,
      maxSymptoms: 20,
      symptomMaxLength: 100,
      maxAgeMonths: 600,
      maxWeightKg: 1000,
    });
  });

  test.each<[string, PetInput, Partial<Pet>]>([
    ['a 1-character name', { ...buddy, name: 'A' }, { name: 'A' }],
    ['a 100-character name', { ...buddy, name: 'n'.repeat(100) }, { name: 'n'.repeat(100) }],
    [
      'a 100-character name inside spaces',
      { ...buddy, name: `  ${'n'.repeat(100)}\t ` },
      { name: 'n'.repeat(100) },
    ],
    ['ageMonths 0', { ...buddy, ageMonths: 0 }, { ageMonths: 0 }],
    ['ageMonths 600', { ...buddy, ageMonths: 600 }, { ageMonths: 600 }],
    ['weightKg 1000', { ...buddy, weightKg: 1000 }, { weightKg: 1000 }],
    ['weightKg 0.001', { ...buddy, weightKg: 0.001 }, { weightKg: 0.001 }],
    [
      'the smallest positive weightKg',
      { ...buddy, weightKg: Number.MIN_VALUE },
      { weightKg: Number.MIN_VALUE },
    ],
    ['no symptoms', { ...buddy, symptoms: [] }, { symptoms: [], status: 'healthy' }],
    ['20 symptoms', { ...max, symptoms: symptoms(20) }, { symptoms: symptoms(20), status: 'ill' }],
    ['a 100-character symptom', { ...max, symptoms: ['s'.repeat(100)] }, { symptoms: ['s'.repeat(100)] }],
    ['a symptom inside spaces', { ...max, symptoms: ['  coughing '] }, { symptoms: ['coughing'] }],
  ])('%s is accepted and stored', async (_label, input, stored) => {
    expect(await createAndRead(input)).toMatchObject(stored);
  });

  test('a pet at every upper bound at once is stored and its workflow finishes', async () => {
    const input: PetInput = {
      name: 'n'.repeat(100),
      species: 'other',
      ageMonths: 600,
      weightKg: 1000,
      symptoms: Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(100, 's')),
    };
    expect(await createAndRead(input)).toMatchObject({ ...input, status: 'ill' });
  });

  test.each<[string, unknown, string, string[]?]>([
    ['an empty name', { ...buddy, name: '' }, 'name', ['must not be empty']],
    ['a name of spaces only', { ...buddy, name: ' \t ' }, 'name', ['must not be empty']],
    ['a 101-character name', { ...buddy, name: 'n'.repeat(101) }, 'name', ['must be at most 100 characters']],
    [
      'a 101-character name inside spaces',
      { ...buddy, name: ` ${'n'.repeat(101)} ` },
      'name',
      ['must be at most 100 characters'],
    ],
    ['ageMonths -1', { ...buddy, ageMonths: -1 }, 'ageMonths', ['Too small: expected number to be >=0']],
    ['ageMonths 601', { ...buddy, ageMonths: 601 }, 'ageMonths', ['Too big: expected number to be <=600']],
    ['ageMonths 1.5', { ...buddy, ageMonths: 1.5 }, 'ageMonths'],
    ['ageMonths 600.5', { ...buddy, ageMonths: 600.5 }, 'ageMonths'],
    ['ageMonths as a string', { ...buddy, ageMonths: '12' }, 'ageMonths'],
    [
      'weightKg 1000.001',
      { ...buddy, weightKg: 1000.001 },
      'weightKg',
      ['Too big: expected number to be <=1000'],
    ],
    ['weightKg 0', { ...buddy, weightKg: 0 }, 'weightKg', ['Too small: expected number to be >0']],
    ['weightKg -1', { ...buddy, weightKg: -1 }, 'weightKg', ['Too small: expected number to be >0']],
    ['weightKg Infinity', { ...buddy, weightKg: Infinity }, 'weightKg'],
    [
      '21 symptoms',
      { ...max, symptoms: symptoms(21) },
      'symptoms',
      ['Too big: expected array to have <=20 items'],
    ],
    [
      'a 101-character symptom',
      { ...max, symptoms: ['s'.repeat(101)] },
      'symptoms',
      ['must be at most 100 characters'],
    ],
    ['an empty symptom', { ...max, symptoms: ['coughing', ''] }, 'symptoms', ['must not be empty']],
    ['a symptom of spaces only', { ...max, symptoms: ['  '] }, 'symptoms', ['must not be empty']],
  ])('%s is BAD_REQUEST naming the field; nothing is stored', async (_label, input, field, messages) => {
    await expectRefused(input, field, messages);
  });
});
