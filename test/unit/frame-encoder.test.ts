/**
 * The WebSocket frame text: byte for byte what tRPC's adapter writes
 * (`JSON.stringify(transformTRPCResponse(config, message))`), whether the
 * event's cached text is spliced in (superjson) or the transformer is asked
 * (any transformer that does not pass such values through as they are).
 */
import { initTRPC, transformTRPCResponse, type AnyTRPCRootTypes, type TRPCRootConfig } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, test } from 'vitest';

import { serializedEvent } from '../../server/engine/transport/sse/event-json.js';
import { FrameEncoder, replyHead } from '../../server/engine/transport/ws/frames.js';
import type { StreamEvent } from '../../shared/stream-event.js';

const event: StreamEvent<unknown> = {
  eventId: '7',
  stream: 'petCreation',
  groupId: '0123456789abcdef0123456789abcdef',
  itemId: 'message',
  kind: 'set',
  data: { message: 'Pet Max entered quarantine period', stage: 'feeding', progress: 25 },
  time: '2026-12-02T10:00:00.000Z',
};

/** A transformer that wraps everything in its own envelope, as some do. */
const tagging = {
  serialize: (value: unknown) => ({ tagged: JSON.parse(JSON.stringify(value) ?? 'null') as unknown }),
  deserialize: (value: unknown) => (value as { tagged: unknown }).tagged,
};

const configOf = (transformer: typeof superjson | typeof tagging) =>
  initTRPC.create({ transformer })._config as unknown as TRPCRootConfig<AnyTRPCRootTypes>;

describe.each([
  ['superjson (the cached text is spliced in)', superjson],
  ['a transformer of its own (asked for every frame)', tagging],
])('FrameEncoder with %s', (_, transformer) => {
  const config = configOf(transformer);

  test('a tracked data frame is what tRPC writes for the same event', () => {
    const expected = JSON.stringify(
      transformTRPCResponse(config, {
        id: 3,
        result: { type: 'data', data: { id: '7', data: event }, id: '7' },
      }),
    );
    const encoder = new FrameEncoder(config);
    expect(encoder.dataFrame(replyHead(3, undefined), serializedEvent(event), '7')).toBe(expected);
    // The plain event (not serialised once) gives the same text.
    expect(new FrameEncoder(config).dataFrame(replyHead(3, undefined), event, '7')).toBe(expected);
  });

  test('an untracked data frame too', () => {
    const expected = JSON.stringify(
      transformTRPCResponse(config, { id: 'a', jsonrpc: '2.0', result: { type: 'data', data: event } }),
    );
    expect(new FrameEncoder(config).dataFrame(replyHead('a', '2.0'), serializedEvent(event), undefined)).toBe(
      expected,
    );
  });
});
