import { describe, expect, test } from 'vitest';

import { DEFAULT_URL, demoOptions, UsageError } from '../../client/demo-options.js';
import { max } from '../support/pets.js';

describe('the demo command line', () => {
  test("no flags at all: the seed's Max, at the default address, over WebSocket", () => {
    expect(demoOptions({})).toEqual({
      url: DEFAULT_URL,
      transport: 'ws',
      json: false,
      apiKey: undefined,
      task: { kind: 'create', pet: max },
    });
  });

  test('flags that are not about the pet still create Max', () => {
    const options = demoOptions({
      url: 'http://127.0.0.1:4000',
      transport: 'sse',
      json: true,
      'api-key': 'key',
    });
    expect(options.task).toEqual({ kind: 'create', pet: max });
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
    });
  });
});
