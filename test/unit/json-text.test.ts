import { describe, expect, test } from 'vitest';

import { stringifyWithJsonText } from '../../server/engine/transport/json-text.js';
import { SerializedEvent, serializedEvent } from '../../server/engine/transport/sse/event-json.js';
import type { StreamEvent } from '../../shared/stream-event.js';

const event: StreamEvent<{ message: string }> = {
  eventId: '7',
  stream: 'petCreation',
  groupId: 'a'.repeat(32),
  itemId: 'message',
  kind: 'set',
  data: { message: 'Pet Max entered quarantine period' },
  time: '2026-12-02T10:00:00.000Z',
};

describe('stringifyWithJsonText: events serialised once, spliced into every frame', () => {
  test('gives JSON.stringify’s text for a frame holding a serialised event', () => {
    const frame = { json: { id: '7', data: serializedEvent(event) }, meta: undefined, skip: () => 1 };
    expect(stringifyWithJsonText(frame)).toBe(JSON.stringify({ json: { id: '7', data: event } }));
  });

  test('splices the cached text instead of serialising the event again', () => {
    const cached = new SerializedEvent(event, '{"cached":true}');
    expect(stringifyWithJsonText({ result: { data: { json: { data: cached } } } })).toBe(
      '{"result":{"data":{"json":{"data":{"cached":true}}}}}',
    );
  });

  test('leaves arrays, toJSON and values past its depth to JSON.stringify', () => {
    const deep = { a: { b: { c: { d: { e: { f: { g: new SerializedEvent(event, '"x"') } } } } } } };
    expect(stringifyWithJsonText(deep)).toBe(JSON.stringify(deep));
    expect(stringifyWithJsonText([1, { a: 2 }])).toBe('[1,{"a":2}]');
    expect(stringifyWithJsonText({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
    expect(stringifyWithJsonText(undefined)).toBeUndefined();
  });
});
