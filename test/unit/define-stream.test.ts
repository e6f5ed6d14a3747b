import { describe, expect, test } from 'vitest';
import { z } from 'zod';

import { petCreationStream } from '../../server/app/pet-shelter/pets/streams.js';
import { defineStream } from '../../server/engine/streams/define-stream.js';
import { MemoryRetention } from '../../server/engine/backends/memory-retention.js';
import { StreamGroupLost } from '../../server/engine/streams/group-lost.js';
import { MemoryWorkflowLogStorage } from '../../server/engine/streams/memory-storage.js';
import { WorkflowLog } from '../../server/engine/streams/workflow-log.js';
import { withWriteKeys } from '../../server/engine/workflows/write-keys.js';
import type { HistoryRead } from '../../server/engine/streams/storage.js';
import type { StreamEvent } from '../../shared/stream-event.js';
import { collect } from '../support/async.js';

const definition = defineStream({ name: 'progress', schema: z.object({ message: z.string() }) });
/** Another stream of the same workflows: its events share their logs. */
const notes = defineStream({ name: 'notes', schema: z.object({ note: z.string() }) });
type Data = z.infer<typeof definition.schema>;

function setup(options: { historyLimit?: number; bufferLimit?: number; retention?: MemoryRetention } = {}) {
  const storage = new MemoryWorkflowLogStorage({
    historyLimit: options.historyLimit ?? 100,
    retentionMs: 60_000,
    retention: options.retention,
  });
  const log = new WorkflowLog(storage, { subscriberBufferLimit: options.bufferLimit ?? 100 });
  return { storage, log, stream: log.stream(definition), other: log.stream(notes) };
}

const messages = (events: readonly StreamEvent<Data>[]) =>
  events.map((e) => e.data?.message ?? `<${e.kind}>`);

describe('defineStream', () => {
  test('set returns the stored record; get and getGroup return current values', async () => {
    const { stream } = setup();
    const record = await stream.set('g1', 'a', { message: 'one' });
    expect(record).toMatchObject({
      eventId: '1',
      groupId: 'g1',
      itemId: 'a',
      kind: 'set',
      data: { message: 'one' },
    });
    expect(Date.parse(record.time)).not.toBeNaN();
    await stream.set('g1', 'b', { message: 'two' });
    await stream.set('g1', 'a', { message: 'three' });
    expect((await stream.get('g1', 'a'))?.data).toEqual({ message: 'three' });
    expect((await stream.getGroup('g1')).map((e) => e.data?.message)).toEqual(['three', 'two']);
    expect(await stream.get('g2', 'a')).toBeNull();
  });

  test('delete removes the item and is an event subscribers see', async () => {
    const { stream } = setup();
    await stream.set('g', 'a', { message: 'one' });
    const deleted = await stream.delete('g', 'a');
    expect(deleted).toMatchObject({ kind: 'delete', itemId: 'a', data: null, eventId: '2' });
    expect(await stream.get('g', 'a')).toBeNull();
    await stream.finish('g', { message: 'done' });
    expect(messages(await collect(stream.subscribe('g')))).toEqual(['one', '<delete>', 'done']);
  });

  test('data that does not match the schema is rejected and nothing is stored', async () => {
    const { stream } = setup();
    // @ts-expect-error wrong data on purpose
    await expect(stream.set('g', 'a', { text: 'nope' })).rejects.toThrow(z.ZodError);
    expect(await stream.getGroup('g')).toEqual([]);
  });

  test('a late subscriber gets the history, then live events, and ends after finish', async () => {
    const { stream } = setup();
    await stream.set('g', 'a', { message: 'one' });
    await stream.set('g', 'a', { message: 'two' });
    const subscription = stream.subscribe('g');
    const first = await subscription.next();
    expect(first.value?.data).toEqual({ message: 'one' });
    await stream.set('g', 'b', { message: 'three' });
    await stream.finish('g', { message: 'finished' });
    await stream.set('g', 'b', { message: 'after the end' });
    const rest: StreamEvent<Data>[] = [];
    for await (const event of subscription) rest.push(event);
    expect(messages(rest)).toEqual(['two', 'three', 'finished']);
  });

  test.each([
    ['0', ['one', 'two', 'three', 'four', 'done']],
    ['1', ['two', 'three', 'four', 'done']],
    ['3', ['four', 'done']],
    ['4', ['done']],
    // After the finished event nothing follows: the subscription ends at once.
    ['5', []],
    // Past the end: no position of this log, so a reset from the start and everything.
    ['6', ['<reset>', 'one', 'two', 'three', 'four', 'done']],
  ])('resume after event %s gets exactly what came after', async (after, expected) => {
    const { stream } = setup();
    for (const message of ['one', 'two', 'three', 'four']) await stream.set('g', 'a', { message });
    await stream.finish('g', { message: 'done' });
    expect(messages(await collect(stream.subscribe('g', { after })))).toEqual(expected);
  });

  test('events written while history is being read are delivered once, in order', async () => {
    const { storage, stream } = setup();
    await stream.set('g', 'a', { message: 'one' });
    await stream.set('g', 'a', { message: 'two' });
    // Writes land between listen() and the end of readAfter(): some before the
    // read takes its snapshot, some after, the race the engine must close.
    const readAfter = storage.readAfter.bind(storage);
    storage.readAfter = async (groupId, after): Promise<HistoryRead> => {
      await stream.set('g', 'a', { message: 'three' });
      const history = await readAfter(groupId, after);
      await stream.set('g', 'a', { message: 'four' });
      await stream.finish('g', { message: 'done' });
      return history;
    };
    const events = await collect(stream.subscribe('g'));
    expect(messages(events)).toEqual(['one', 'two', 'three', 'four', 'done']);
    expect(events.map((e) => e.eventId)).toEqual(['1', '2', '3', '4', '5']);
  });

  test('a resume from trimmed history gets an explicit reset, then what is kept', async () => {
    const { stream } = setup({ historyLimit: 2 });
    for (const message of ['one', 'two', 'three', 'four']) await stream.set('g', 'a', { message });
    await stream.finish('g', { message: 'done' });
    const events = await collect(stream.subscribe('g', { after: '1' }));
    expect(events.map((e) => e.kind)).toEqual(['reset', 'set', 'finished']);
    expect(messages(events.slice(1))).toEqual(['four', 'done']);
    // A resume inside what is kept needs no reset.
    expect((await collect(stream.subscribe('g', { after: '4' }))).map((e) => e.kind)).toEqual(['finished']);
  });

  test('idempotent writes: the same key stores once and returns the first record', async () => {
    const { stream } = setup();
    let n = 0;
    const keyed = stream.withWriteKeys(() => `step:${(n += 1)}`);
    const first = await keyed.set('g', 'a', { message: 'one' });
    n = 0; // a retry starts counting again
    const again = await keyed.set('g', 'a', { message: 'one' });
    expect(again).toEqual(first);
    await stream.finish('g', { message: 'done' });
    expect(messages(await collect(stream.subscribe('g')))).toEqual(['one', 'done']);
  });

  test('step write keys: a retry that writes drafts differently repeats no event and swallows none', async () => {
    const { log } = setup();
    const streams = log.streams({ petCreation: petCreationStream });
    const firstRun = withWriteKeys(streams, 'Step:msg-1');
    await firstRun.petCreation.set('g', 'progress_bio', { message: 'Writing bio', partial: 'Max is' });
    await firstRun.petCreation.set('g', 'progress_bio', { message: 'Generated bio' });
    await firstRun.petCreation.set('g', 'progress_bio', { message: 'Generated bio' });
    const retry = withWriteKeys(streams, 'Step:msg-1');
    await retry.petCreation.set('g', 'progress_bio', { message: 'Writing bio', partial: 'Max is' });
    await retry.petCreation.set('g', 'progress_bio', { message: 'Writing bio', partial: 'Max is a' });
    await retry.petCreation.set('g', 'progress_bio', { message: 'Generated bio' });
    await retry.petCreation.set('g', 'progress_bio', { message: 'Generated bio' });
    await retry.petCreation.set('g', 'completed', { message: 'Done' });
    await streams.petCreation.finish('g', { message: 'finished' });
    const events = await collect(streams.petCreation.subscribe('g'));
    expect(events.map((e) => [e.data?.message, e.data?.partial])).toEqual([
      ['Writing bio', 'Max is'],
      ['Generated bio', undefined],
      ['Generated bio', undefined],
      ['Writing bio', 'Max is a'],
      ['Done', undefined],
      ['finished', undefined],
    ]);
  });

  test('finish is written once however often it is called', async () => {
    const { stream } = setup();
    const a = await stream.finish('g', { message: 'done' });
    const b = await stream.finish('g', { message: 'done again' });
    expect(b).toEqual(a);
  });

  test('a subscriber that falls too far behind catches up from storage, missing nothing', async () => {
    const { storage, stream } = setup({ historyLimit: 1000, bufferLimit: 3 });
    const subscription = stream.subscribe('g');
    const pending = subscription.next();
    await stream.set('g', 'a', { message: 'first' });
    expect((await pending).value?.data).toEqual({ message: 'first' });
    // Five events while the reader is away: more than its live buffer holds.
    for (let i = 0; i < 5; i += 1) await stream.set('g', 'a', { message: `burst ${i}` });
    await stream.finish('g', { message: 'done' });
    expect(messages(await collect(subscription))).toEqual([
      'burst 0',
      'burst 1',
      'burst 2',
      'burst 3',
      'burst 4',
      'done',
    ]);
    expect(storage.listenerCount()).toBe(0);
  });

  test('a resume point past the end of a running group: reset from 0, the whole history, then live', async () => {
    const { stream, storage } = setup();
    for (const message of ['one', 'two']) await stream.set('g', 'a', { message });
    const subscription = stream.subscribe('g', { after: '3' });
    const first = await subscription.next();
    expect(first.value).toMatchObject({ kind: 'reset', eventId: '0', itemId: 'history', data: null });
    await stream.set('g', 'a', { message: 'three' });
    await stream.finish('g', { message: 'done' });
    const rest = await collect(subscription);
    expect(rest.map((e) => `${e.kind}:${e.eventId}`)).toEqual(['set:1', 'set:2', 'set:3', 'finished:4']);
    expect(storage.listenerCount()).toBe(0);
  });

  test('a group lost while subscribed: a reset with the last delivered id, then StreamGroupLost', async () => {
    const retention = new MemoryRetention({ retentionMs: 60_000 });
    const { storage, stream } = setup({ retention });
    await stream.set('g', 'a', { message: 'one' });
    const seen: StreamEvent<Data>[] = [];
    const subscription = (async () => {
      for await (const event of stream.subscribe('g')) {
        seen.push(event);
        if (seen.length === 2) {
          retention.finish('g');
          retention.evictOldest();
        }
      }
    })();
    await stream.set('g', 'a', { message: 'two' });
    await expect(subscription).rejects.toThrow(StreamGroupLost);
    expect(seen.map((e) => `${e.kind}:${e.eventId}`)).toEqual(['set:1', 'set:2', 'reset:2']);
    expect(storage.listenerCount()).toBe(0);
    retention.close();
  });

  test('the streams of a workflow share its log: ids count across them, and each stream keeps its own items', async () => {
    const { stream, other } = setup();
    const first = await stream.set('g', 'a', { message: 'one' });
    const note = await other.set('g', 'a', { note: 'aside' });
    const second = await stream.set('g', 'b', { message: 'two' });
    expect([first, note, second].map((e) => [e.stream, e.eventId])).toEqual([
      ['progress', '1'],
      ['notes', '2'],
      ['progress', '3'],
    ]);
    expect((await stream.get('g', 'a'))?.data).toEqual({ message: 'one' });
    expect((await other.get('g', 'a'))?.data).toEqual({ note: 'aside' });
    expect((await stream.getGroup('g')).map((e) => e.itemId)).toEqual(['a', 'b']);
    expect((await other.getGroup('g')).map((e) => e.itemId)).toEqual(['a']);
  });

  test("a stream's subscription skips the other streams' events (ids have gaps) and ends at the workflow's finish, whichever stream wrote it", async () => {
    const { stream, other } = setup();
    await stream.set('g', 'a', { message: 'one' });
    await other.set('g', 'a', { note: 'aside' });
    const subscription = stream.subscribe('g');
    expect((await subscription.next()).value).toMatchObject({ eventId: '1', stream: 'progress' });
    await other.set('g', 'a', { note: 'live aside' });
    await stream.set('g', 'a', { message: 'two' });
    const finished = await other.finish('g', { note: 'done' });
    const rest = await collect(subscription);
    expect(rest.map((e) => `${e.stream}:${e.kind}:${e.eventId}`)).toEqual([
      'progress:set:4',
      'notes:finished:5',
    ]);
    expect(rest.at(-1)).toEqual(finished);
    // Resuming after an id of another stream is resuming inside the log: no reset.
    expect((await collect(stream.subscribe('g', { after: '2' }))).map((e) => e.eventId)).toEqual(['4', '5']);
    // The finish is the workflow's: a second one on another stream is the same event.
    expect(await stream.finish('g', { message: 'again' })).toEqual(finished);
  });

  test('a reset event names the subscribed stream', async () => {
    const { stream, log } = setup({ historyLimit: 1 });
    await stream.set('g', 'a', { message: 'one' });
    await stream.set('g', 'a', { message: 'two' });
    await stream.finish('g', { message: 'done' });
    const events = await collect(stream.subscribe('g', { after: '1' }));
    expect(events.map((e) => `${e.stream}:${e.kind}:${e.eventId}`)).toEqual([
      'progress:reset:1',
      'progress:finished:3',
    ]);
    expect(stream.resetEvent('g', null)).toMatchObject({ stream: 'progress', eventId: '0', kind: 'reset' });
    expect(log.resetEvent('g', '7', 'notes')).toMatchObject({ stream: 'notes', eventId: '7', kind: 'reset' });
  });

  test('step write keys tell the same write to two streams apart', async () => {
    const { log } = setup();
    const same = defineStream({ name: 'progressCopy', schema: definition.schema });
    const run = withWriteKeys(log.streams({ progress: definition, progressCopy: same }), 'Step:msg-1');
    const a = await run.progress.set('g', 'a', { message: 'one' });
    const b = await run.progressCopy.set('g', 'a', { message: 'one' });
    expect([a.eventId, b.eventId]).toEqual(['1', '2']);
  });

  test('an aborted subscription ends and unregisters its listener', async () => {
    const { stream, storage } = setup();
    const controller = new AbortController();
    const done = collect(stream.subscribe('g', { signal: controller.signal }));
    await stream.set('g', 'a', { message: 'one' });
    controller.abort();
    expect(messages(await done)).toEqual(['one']);
    expect(storage.listenerCount()).toBe(0);
  });
});
