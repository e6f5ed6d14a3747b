import { describe, expect, test } from 'vitest';

import {
  applyUpdate,
  InvalidUpdate,
  MAX_UPDATE_OPS,
  type UpdateOp,
} from '../../server/engine/streams/update-ops.js';

describe('applyUpdate', () => {
  test('each operation on a missing item starts from nothing', () => {
    expect(applyUpdate(undefined, [{ op: 'increment', path: 'n' }])).toEqual({ n: 1 });
    expect(applyUpdate(undefined, [{ op: 'append', path: 'tags', value: 'calm' }])).toEqual({
      tags: ['calm'],
    });
    expect(applyUpdate(undefined, [{ op: 'merge', value: { a: 1 } }])).toEqual({ a: 1 });
    expect(applyUpdate(undefined, [{ op: 'set', path: 'a.b', value: 2 }])).toEqual({ a: { b: 2 } });
    expect(applyUpdate(undefined, [{ op: 'set', path: '', value: 'whole' }])).toBe('whole');
  });

  test('operations apply in order to a copy of the current value', () => {
    const current = { n: 1, tags: ['a'], bio: 'Max', home: { garden: false } };
    const next = applyUpdate(current, [
      { op: 'increment', path: 'n', by: 2.5 },
      { op: 'increment', path: 'n', by: -1 },
      { op: 'append', path: 'tags', value: { nested: true } },
      { op: 'append', path: 'bio', value: ' is a dog' },
      { op: 'merge', path: 'home', value: { garden: true, pets: 2 } },
      { op: 'set', path: 'home.type', value: 'house' },
    ]);
    expect(next).toEqual({
      n: 2.5,
      tags: ['a', { nested: true }],
      bio: 'Max is a dog',
      home: { garden: true, pets: 2, type: 'house' },
    });
    expect(current).toEqual({ n: 1, tags: ['a'], bio: 'Max', home: { garden: false } });
  });

  test('an operation that does not fit the value is refused, naming it and its path', () => {
    const refused = (current: unknown, ops: UpdateOp[]) => {
      try {
        applyUpdate(current, ops);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidUpdate);
        return (error as Error).message;
      }
      throw new Error('applied');
    };
    expect(refused({ n: 'x' }, [{ op: 'increment', path: 'n' }])).toBe(
      'operation 1 (increment n): the field is not a number',
    );
    expect(refused({ n: 1 }, [{ op: 'increment', path: 'n', by: Number.NaN }])).toBe(
      'operation 1 (increment n): `by` must be a finite number',
    );
    expect(
      refused({ list: {} }, [
        { op: 'set', path: 'x', value: 1 },
        { op: 'append', path: 'list', value: 1 },
      ]),
    ).toBe('operation 2 (append list): the field is not an array');
    expect(refused(7, [{ op: 'set', path: 'a', value: 1 }])).toBe(
      'operation 1 (set a): the value is not an object',
    );
    expect(refused({ a: 1 }, [{ op: 'set', path: 'a.b', value: 1 }])).toBe(
      'operation 1 (set a.b): `a` is not an object',
    );
    expect(refused({ a: [] }, [{ op: 'merge', path: 'a', value: { b: 1 } }])).toBe(
      'operation 1 (merge a): there is no object to merge into',
    );
    for (const path of ['__proto__.x', 'a..b', 'constructor', 'a.prototype']) {
      expect(refused({}, [{ op: 'set', path, value: 1 }])).toBe(
        `operation 1 (set ${path}): \`${path}\` is not a field path`,
      );
    }
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  test(`1 to ${MAX_UPDATE_OPS} operations: none or one more is refused`, () => {
    const op: UpdateOp = { op: 'increment', path: 'n' };
    expect(
      applyUpdate(
        undefined,
        Array.from({ length: MAX_UPDATE_OPS }, () => op),
      ),
    ).toEqual({ n: MAX_UPDATE_OPS });
    expect(() => applyUpdate(undefined, [])).toThrow('An update takes 1-100 operations, got 0');
    expect(() =>
      applyUpdate(
        undefined,
        Array.from({ length: MAX_UPDATE_OPS + 1 }, () => op),
      ),
    ).toThrow('An update takes 1-100 operations, got 101');
  });
});
