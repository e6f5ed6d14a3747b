import { describe, expect, test } from 'vitest';
import { z } from 'zod';

import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { defineStream } from '../../server/engine/streams/define-stream.js';
import { MemoryWorkflowLogStorage } from '../../server/engine/streams/memory-storage.js';
import { WorkflowLog } from '../../server/engine/streams/workflow-log.js';
import { withWriteKeys } from '../../server/engine/workflows/write-keys.js';
import { collect } from '../support/async.js';

const definition = defineStream({ name: 'progress', schema: z.object({ message: z.string() }) });

function setup(options: { readonly historyLimit?: number } = {}) {
  const storage = new MemoryWorkflowLogStorage({
    historyLimit: options.historyLimit ?? 100,
    retentionMs: 60_000,
  });
  const delivered: string[] = [];
  const log = new WorkflowLog(storage, {
    subscriberBufferLimit: 100,
    observer: {
      delivered: (event, live) => delivered.push(`${event.kind}:${event.eventId}${live ? ' live' : ''}`),
    },
  });
  return { storage, stream: log.stream(definition), delivered };
}

const ids = (events: readonly { kind: string; eventId: string }[]) =>
  events.map((e) => `${e.kind}:${e.eventId}`);

describe('Stream: what a subscriber and the metrics see', () => {
  test('the final event is item `workflow`, kind `finished`, with its data', async () => {
    const { stream } = setup();
    await stream.set('g', 'a', { message: 'one' });
    expect(await stream.finish('g', { message: 'done' })).toMatchObject({
      eventId: '2',
      itemId: 'workflow',
      kind: 'finished',
      data: { message: 'done' },
    });
  });

  test('a reset for trimmed history carries the resume point, so resuming after it asks for the same place', async () => {
    const { stream } = setup({ historyLimit: 2 });
    for (const message of ['one', 'two', 'three', 'four']) await stream.set('g', 'a', { message });
    await stream.finish('g', { message: 'done' });
    const events = await collect(stream.subscribe('g', { after: '2' }));
    expect(ids(events)).toEqual(['reset:2', 'set:4', 'finished:5']);
    expect(events[0]).toMatchObject({ itemId: 'history', data: null, groupId: 'g', stream: 'progress' });
  });

  test('each delivered event is counted once, as history or as live', async () => {
    const { stream, delivered } = setup();
    await stream.set('g', 'a', { message: 'one' });
    const subscription = stream.subscribe('g');
    expect((await subscription.next()).value?.eventId).toBe('1');
    const next = subscription.next();
    await stream.set('g', 'a', { message: 'two' });
    expect((await next).value?.eventId).toBe('2');
    await stream.finish('g', { message: 'done' });
    expect(ids(await collect(subscription))).toEqual(['finished:3']);
    expect(delivered).toEqual(['set:1', 'set:2 live', 'finished:3 live']);
  });
});

/** The pet creation stream over a fresh memory log. */
function petCreationStreams() {
  const storage = new MemoryWorkflowLogStorage({ historyLimit: 100, retentionMs: 60_000 });
  return new WorkflowLog(storage, { subscriberBufferLimit: 100 }).streams({ petCreation: petCreationStream });
}

describe('Stream.delete with step write keys', () => {
  test('a retried run repeats no delete, and a delete the first attempt never made is stored', async () => {
    const streams = petCreationStreams();
    await streams.petCreation.set('g', 'a', { message: 'A' });
    await streams.petCreation.set('g', 'b', { message: 'B' });
    const firstRun = withWriteKeys(streams, 'Step:msg-1');
    const first = await firstRun.petCreation.delete('g', 'a');
    // The retry deletes `a` again (the same write: nothing new), then `b`, which the first attempt never reached.
    const retry = withWriteKeys(streams, 'Step:msg-1');
    expect(await retry.petCreation.delete('g', 'a')).toEqual(first);
    const secondDelete = await retry.petCreation.delete('g', 'b');
    expect(secondDelete).toMatchObject({ kind: 'delete', itemId: 'b', eventId: '4' });
    expect(await streams.petCreation.getGroup('g')).toEqual([]);
  });

  test('a retry that deletes a different item first swallows neither delete', async () => {
    const streams = petCreationStreams();
    await streams.petCreation.set('g', 'a', { message: 'A' });
    await streams.petCreation.set('g', 'b', { message: 'B' });
    await withWriteKeys(streams, 'Step:msg-1').petCreation.delete('g', 'a');
    const retry = withWriteKeys(streams, 'Step:msg-1');
    expect(await retry.petCreation.delete('g', 'b')).toMatchObject({ itemId: 'b', eventId: '4' });
    expect((await streams.petCreation.getGroup('g')).map((e) => e.itemId)).toEqual([]);
  });
});

describe('Stream write keys: what the key function is told', () => {
  test('each write is described by its stream, item, kind and data; the final event asks for no key', async () => {
    const storage = new MemoryWorkflowLogStorage({ historyLimit: 100, retentionMs: 60_000 });
    const writes: unknown[] = [];
    const stream = new WorkflowLog(storage, { subscriberBufferLimit: 100 })
      .stream(definition)
      .withWriteKeys((write) => {
        writes.push(write);
        return `key-${writes.length}`;
      });
    await stream.set('g', 'a', { message: 'one' });
    await stream.delete('g', 'a');
    await stream.finish('g', { message: 'done' });
    expect(writes).toEqual([
      { stream: 'progress', itemId: 'a', kind: 'set', data: { message: 'one' } },
      { stream: 'progress', itemId: 'a', kind: 'delete', data: null },
    ]);
    await storage.close();
  });
});

describe('defineStream: names', () => {
  test('a name that is not one word is refused as a stream name', () => {
    const name = 'pet-creation' as string;
    expect(() => defineStream({ name, schema: z.string() })).toThrow(
      new TypeError(
        'Invalid stream name `pet-creation`: expected letters and digits only, starting with a letter (such as `petCreation`)',
      ),
    );
  });
});
