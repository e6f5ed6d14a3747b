import { tracked, transformTRPCResponse } from '@trpc/server/unstable-core-do-not-import';
import { describe, expect, test } from 'vitest';

import { appRouter } from '../../server/router/app-router.js';
import { serializedEvent } from '../../server/streams/serialized-event.js';
import { encodeMessage } from '../../server/transport/ws-encoder.js';
import type { StreamEvent } from '../../shared/stream-event.js';

const event: StreamEvent<unknown> = {
  eventId: '7',
  stream: 'petCreation',
  groupId: '0123456789abcdef0123456789abcdef',
  itemId: 'message',
  kind: 'set',
  data: {
    message: 'Health check passed for Buddy - no symptoms found ✅ "quoted"',
    stage: 'feeding',
    progress: 60,
  },
  time: '2025-01-01T00:00:00.000Z',
};

/** A subscription's data message exactly as tRPC's WebSocket adapter builds it for a tracked value. */
function dataMessage(id: number | string, value: unknown, jsonrpc?: '2.0') {
  const [eventId, data] = tracked('7', value);
  return transformTRPCResponse(appRouter._def._config, {
    id,
    jsonrpc,
    result: { type: 'data', data: { id: eventId, data }, id: eventId },
  });
}

describe('encodeMessage', () => {
  test.each([
    { id: 1, result: { type: 'started' } },
    { id: 'a', jsonrpc: '2.0', result: { type: 'stopped' } },
    {
      id: null,
      error: {
        json: { message: 'Invalid input', code: -32600, data: { fieldErrors: { name: ['too long'] } } },
      },
    },
    { id: 2, result: { type: 'data', data: { json: [1, 'two', null, { three: 3 }], meta: { values: {} } } } },
    {
      id: 3,
      skipped: undefined,
      fn: () => 1,
      nested: { when: new Date(0), deep: { a: { b: { c: { d: { e: 1 } } } } } },
    },
    Object.assign(Object.create(null) as object, { id: 4, result: { type: 'data', data: 'x' } }),
    { id: 5, result: { toJSON: () => ({ replaced: true }) } },
  ])('writes what JSON.stringify writes: %j', (message) => {
    expect(encodeMessage(message)).toBe(JSON.stringify(message));
  });

  test.each([
    [1, undefined],
    ['sub-1', '2.0'],
  ] as const)(
    'a tracked event for subscription %j is the same text as JSON.stringify makes',
    (id, jsonrpc) => {
      const plain = dataMessage(id, event, jsonrpc);
      const shared = dataMessage(id, serializedEvent(event), jsonrpc);
      expect(encodeMessage(shared)).toBe(JSON.stringify(plain));
      expect(encodeMessage(shared)).toBe(JSON.stringify(shared));
    },
  );

  test('every subscriber gets its own request id around the shared event text', () => {
    const delivered = serializedEvent(event);
    const texts = [1, 2, 3].map((id) => encodeMessage(dataMessage(id, delivered)));
    expect(texts.map((text) => (JSON.parse(text) as { id: number }).id)).toEqual([1, 2, 3]);
    expect(new Set(texts.map((text) => text.replace(/^\{"id":\d+/, ''))).size).toBe(1);
  });

  test('a shared event in a message of another shape is still written correctly', () => {
    const delivered = serializedEvent(event);
    const messages = [
      { id: 1, result: { type: 'data', data: { json: { id: '7', data: delivered } }, id: '7', extra: true } },
      { id: 1, result: { type: 'data', data: { json: { id: '8', data: delivered } }, id: '8' } },
      { id: 1, result: { type: 'data', data: { json: [delivered] } } },
    ];
    for (const message of messages) expect(encodeMessage(message)).toBe(JSON.stringify(message));
  });
});
