import superjson from 'superjson';
import { describe, expect, test } from 'vitest';

import { serializedEvent } from '../../server/engine/transport/sse/event-json.js';
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
