import { describe, expect, test } from 'vitest';

import { DEFAULT_NOTE, DEFAULT_URL, demoOptions, UsageError } from '../../client/demo-options.js';
import { max } from '../support/pets.js';

describe('the demo command line', () => {
  test("no flags at all: the seed's Max, at the default address, over WebSocket", () => {
    expect(demoOptions({})).toEqual({
      url: DEFAULT_URL,
      transport: 'ws',
      json: false,
      apiKey: undefined,
      task: { kind: 'create', pet: max, treatment: null },
    });
  });

  test('flags that are not about the pet still create Max', () => {
    const options = demoOptions({
      url: 'http://127.0.0.1:4000',
      transport: 'sse',
      json: true,
      'api-key': 'key',
    });
    expect(options.task).toEqual({ kind: 'create', pet: max, treatment: null });
  });

  test.each([
    [{ name: 'Rex' }, 'invalid input: --species: is required; --age: is required'],
    [
      { symptom: ['coughing'] },
      'invalid input: --name: is required; --species: is required; --age: is required',
    ],
    [{ weight: '12' }, 'invalid input: --name: is required; --species: is required; --age: is required'],
  ])('any pet flag asks for a whole pet: %o', (flags, message) => {
    expect(() => demoOptions(flags)).toThrow(new UsageError(message));
  });

  test('pet flags make that pet', () => {
    expect(demoOptions({ name: 'Rex', species: 'cat', age: '3' }).task).toEqual({
      kind: 'create',
      pet: { name: 'Rex', species: 'cat', ageMonths: 3 },
      treatment: null,
    });
  });

  test('--treat treats the pet after its creation: the vet asked for (or waited for), or answered by --vet', () => {
    expect(demoOptions({ treat: true }).task).toEqual({
      kind: 'create',
      pet: max,
      treatment: { vet: null, note: DEFAULT_NOTE },
    });
    for (const vet of ['clear', 'keep', 'cancel'] as const) {
      expect(demoOptions({ treat: true, vet, note: '  Lungs clear ' }).task).toMatchObject({
        treatment: { vet, note: 'Lungs clear' },
      });
    }
    expect(demoOptions({ treat: true, note: 'n'.repeat(500) }).task).toMatchObject({
      treatment: { note: 'n'.repeat(500) },
    });
  });

  test.each([
    [{ treat: true, vet: 'maybe' }, '--vet: must be one of clear, keep, cancel, got "maybe"'],
    [{ treat: true, note: 'n'.repeat(501) }, '--note: must be 1 to 500 characters'],
    [{ treat: true, note: '  ' }, '--note: must be 1 to 500 characters'],
    [{ vet: 'clear' }, '--vet and --note go with --treat'],
    [{ note: 'Fine' }, '--vet and --note go with --treat'],
    [
      { treat: true, watch: '0123456789abcdef0123456789abcdef', token: 't' },
      '--watch attaches to an existing workflow: drop --treat',
    ],
  ])('treatment flags that cannot run: %o', (flags, message) => {
    expect(() => demoOptions(flags)).toThrow(new UsageError(message));
  });
});
