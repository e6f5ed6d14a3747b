import { describe, expect, test } from 'vitest';

import type { WorkflowEvent } from '../../client/create-client.js';
import { max } from '../support/pets.js';
import { startTestApp } from '../support/test-app.js';

async function collect<T>(events: AsyncIterable<T>): Promise<T[]> {
  const seen: T[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

describe('client.watch: any workflow kind, typed by its streams', () => {
  test.each(['ws', 'sse'] as const)(
    'every stream in log order, one cursor, ends after finished (%s)',
    async (transport) => {
      await using ctx = await startTestApp();
      const client = ctx.newClient({ transport });
      const created = await client.pets.create.mutate(max);
      const events: WorkflowEvent<'petCreation'>[] = await collect(
        client.watch('petCreation', created.traceId, created.streamToken),
      );
      const ids = events.map((event) => Number(event.eventId));
      expect(ids).toEqual(ids.map((_, index) => index + 1));
      expect(new Set(events.map((event) => event.stream))).toEqual(new Set(['petCreation', 'petProfile']));
      expect(events.at(-1)).toMatchObject({ kind: 'finished', stream: 'petCreation' });
      const fields = events.flatMap((event) => (event.stream === 'petProfile' ? [event.data?.field] : []));
      expect(fields).toEqual(['bio', 'breedGuess', 'temperamentTags', 'adopterHints']);
    },
  );

  test('a stream filter gives that stream and the finished event', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(max);
    const events = await collect(
      ctx.client.watch('petCreation', created.traceId, created.streamToken, { streams: ['petProfile'] }),
    );
    expect(events.slice(0, -1).map((event) => event.stream)).toEqual(Array(4).fill('petProfile'));
    expect(events.at(-1)).toMatchObject({ kind: 'finished', stream: 'petCreation' });
  });

  test('a token is refused for another kind: FORBIDDEN at once, not an empty subscription', async () => {
    await using ctx = await startTestApp();
    const created = await ctx.client.pets.create.mutate(max);
    const error = await new Promise<unknown>((resolve) => {
      ctx.client.trpc.workflows.onUpdate.subscribe(
        { traceId: created.traceId, token: created.streamToken, kind: 'adoption' },
        { onError: resolve, onData: () => resolve(new Error('data before the refusal')) },
      );
    });
    expect(error).toMatchObject({ data: { code: 'FORBIDDEN' } });
    await expect(
      collect(ctx.client.watch('petCreation', created.traceId, created.streamToken)),
    ).resolves.toHaveLength(15);
  });
});
