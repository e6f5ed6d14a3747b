import superjson from 'superjson';
import { describe, expect, test } from 'vitest';

import {
  isPlainJson,
  SerializedEvent,
  serializedEvent,
} from '../../server/engine/transport/sse/event-json.js';
import type { StreamEvent } from '../../shared/stream-event.js';

const event = (
  eventId: string,
  data: unknown = { message: 'Pet Max entered quarantine period', stage: 'feeding', progress: 25 },
): StreamEvent<unknown> => ({
  eventId,
  stream: 'petCreation',
  groupId: '0123456789abcdef0123456789abcdef',
  itemId: 'message',
  kind: 'set',
  data,
  time: '2025-01-01T00:00:00.000Z',
});

describe('serializedEvent', () => {
  test('reads, compares and serialises like the event', () => {
    const plain = event('1');
    const delivered = serializedEvent(plain);
    expect(delivered).toEqual(plain);
    expect(delivered.eventId).toBe('1');
    expect(delivered.data).toBe(plain.data);
    expect(JSON.stringify(delivered)).toBe(JSON.stringify(plain));
  });

  test('superjson gives a client the same JSON as for the plain event', () => {
    const plain = event('2');
    const delivered = serializedEvent(plain);
    const wire = JSON.stringify(superjson.serialize({ id: '2', data: delivered }));
    expect(wire).toBe(JSON.stringify(superjson.serialize({ id: '2', data: plain })));
    expect(superjson.deserialize(JSON.parse(wire) as never)).toEqual({ id: '2', data: plain });
  });

  test('the subscribers of one event share one serialisation, each event has its own', () => {
    const first = event('3');
    const second = event('4');
    expect(serializedEvent(first)).toBe(serializedEvent(first));
    expect(serializedEvent(second)).not.toBe(serializedEvent(first));
    expect(serializedEvent(second)).toEqual(second);
  });

  test('an event whose data needs superjson annotations is left to superjson', () => {
    const dated = event('5', { message: 'dated', at: new Date(0) });
    expect(serializedEvent(dated)).toBe(dated);
  });
});

describe('isPlainJson: the fast check agrees with superjson', () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const sparse: unknown[] = [1];
  sparse[2] = 3;
  const deep = (levels: number): unknown => (levels === 0 ? 'leaf' : { next: deep(levels - 1) });
  const cases: [string, unknown][] = [
    ['text', 'Pet Max entered quarantine period'],
    ['numbers', { a: 0, b: 1.5, c: -3, d: Number.MAX_SAFE_INTEGER }],
    ['nested arrays and objects', { tags: ['calm', 'playful'], nested: [{ a: [null, true, false] }] }],
    ['null-prototype object', Object.assign(Object.create(null) as object, { a: 1 })],
    ['empty', { a: {}, b: [] }],
    ['an undefined value', { a: undefined }],
    ['NaN', { a: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['-0', { a: -0 }],
    ['a date', { at: new Date(0) }],
    ['a map', { m: new Map([[1, 2]]) }],
    ['a set', [new Set([1])]],
    ['a bigint', { n: 1n }],
    ['a regexp', { r: /x/ }],
    ['a class instance', { p: new Point(1) }],
    ['a sparse array', sparse],
    ['deep but within the limit', deep(30)],
    ['past the depth limit', deep(40)],
  ];

  test.each(cases)('%s', (_, data) => {
    const plain = event('9', data);
    const { json, meta } = superjson.serialize(plain);
    const delivered = serializedEvent(plain);
    if (isPlainJson(plain)) {
      // Only what superjson leaves untouched is called plain, and its text is superjson's.
      expect(meta).toBeUndefined();
      expect(delivered).toBeInstanceOf(SerializedEvent);
      expect((delivered as unknown as SerializedEvent<unknown>).json).toBe(JSON.stringify(json));
    } else if (meta === undefined) {
      // Not sure, but superjson adds nothing: still served from one text, superjson's.
      expect((delivered as unknown as SerializedEvent<unknown>).json).toBe(JSON.stringify(json));
    } else {
      expect(delivered).toBe(plain);
    }
  });

  test('what is plain and what is not', () => {
    expect(cases.filter(([, data]) => isPlainJson(data)).map(([name]) => name)).toEqual([
      'text',
      'numbers',
      'nested arrays and objects',
      'null-prototype object',
      'empty',
      'deep but within the limit',
    ]);
  });
});
