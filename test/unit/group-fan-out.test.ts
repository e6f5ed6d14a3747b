import { describe, expect, test, vi } from 'vitest';
import { z } from 'zod';

import { createDeferred } from '../../shared/deferred.js';
import { defineStream, type Stream } from '../../server/engine/streams/define-stream.js';
import { MemoryRetention } from '../../server/engine/backends/memory-retention.js';
import { StreamGroupLost } from '../../server/engine/streams/group-lost.js';
import { MemoryWorkflowLogStorage } from '../../server/engine/streams/memory-storage.js';
import type { HistoryRead, StoredEvent } from '../../server/engine/streams/storage.js';
import { WorkflowLog } from '../../server/engine/streams/workflow-log.js';

const definition = defineStream({ name: 'progress', schema: z.object({ message: z.string() }) });
/** A second stream of the same workflows. */
const notesDefinition = defineStream({ name: 'notes', schema: z.object({ note: z.string() }) });

/** Memory storage whose history reads wait for `gate`: events can be written while a read is under way. */
class GatedStorage extends MemoryWorkflowLogStorage {
  gate: Promise<void> = Promise.resolve();
  override async readAfter(groupId: string, after: string | null): Promise<HistoryRead> {
    await this.gate;
    return super.readAfter(groupId, after);
  }
}

function setup(options: { readonly bufferLimit?: number; readonly historyLimit?: number } = {}) {
  const storage = new GatedStorage({ historyLimit: options.historyLimit ?? 100, retentionMs: 60_000 });
  const delivered: string[] = [];
  const log = new WorkflowLog(storage, {
    subscriberBufferLimit: options.bufferLimit ?? 100,
    observer: { delivered: (event, live) => delivered.push(`${event.eventId}${live ? ' live' : ''}`) },
  });
  return { storage, log, stream: log.stream(definition), delivered };
}

/** A push subscription collecting what it gets; `ended` resolves with the error, if any. */
function watch(stream: Stream<unknown>, groupId: string, after: string | null = null) {
  const events: StoredEvent[] = [];
  const ended = createDeferred<unknown>();
  const stop = stream.push(groupId, after, {
    event: (event) => events.push(event),
    end: (error) => ended.resolve(error),
  });
  return {
    events,
    ended: ended.promise,
    stop,
    ids: () => events.map((event) => `${event.kind}:${event.eventId}`),
  };
}

describe('Stream.push (shared group delivery)', () => {
  test('history, then live, each once, ending after finished; one storage listener for all', async () => {
    const { storage, stream } = setup();
    await stream.set('g', 'a', { message: 'one' });
    const first = watch(stream, 'g');
    const second = watch(stream, 'g', '1');
    expect(storage.listenerCount()).toBe(1);
    await stream.set('g', 'a', { message: 'two' });
    await stream.finish('g', { message: 'done' });
    expect(await first.ended).toBeUndefined();
    expect(await second.ended).toBeUndefined();
    expect(first.ids()).toEqual(['set:1', 'set:2', 'finished:3']);
    expect(second.ids()).toEqual(['set:2', 'finished:3']);
    expect(storage.listenerCount()).toBe(0);
  });

  test('events written during the history read arrive once; too many of them are read again from storage', async () => {
    const { storage, stream, delivered } = setup({ bufferLimit: 2 });
    const gate = createDeferred<void>();
    storage.gate = gate.promise;
    await stream.set('g', 'a', { message: 'one' });
    const small = watch(stream, 'g');
    for (const message of ['two', 'three', 'four', 'five']) await stream.set('g', 'a', { message });
    gate.resolve();
    await stream.finish('g', { message: 'done' });
    await small.ended;
    expect(small.ids()).toEqual(['set:1', 'set:2', 'set:3', 'set:4', 'set:5', 'finished:6']);
    expect(delivered).toHaveLength(6);
  });

  test('a resume point whose history is trimmed gets reset first; stop ends delivery without end()', async () => {
    const { storage, stream } = setup({ historyLimit: 2 });
    for (const message of ['one', 'two', 'three', 'four']) await stream.set('g', 'a', { message });
    const resumed = watch(stream, 'g', '1');
    await expect.poll(() => resumed.events.length).toBe(3);
    expect(resumed.ids()).toEqual(['reset:1', 'set:3', 'set:4']);
    resumed.stop();
    resumed.stop();
    expect(storage.listenerCount()).toBe(0);
    await stream.set('g', 'a', { message: 'five' });
    expect(resumed.events).toHaveLength(3);
  });

  test('a resume point past the end gets a reset from 0 and the whole history; at the finished event it ends at once', async () => {
    const { storage, stream } = setup();
    await stream.set('g', 'a', { message: 'one' });
    const ahead = watch(stream, 'g', '2');
    await expect.poll(() => ahead.events.length).toBe(2);
    await stream.finish('g', { message: 'done' });
    expect(await ahead.ended).toBeUndefined();
    expect(ahead.ids()).toEqual(['reset:0', 'set:1', 'finished:2']);
    const atEnd = watch(stream, 'g', '2');
    expect(await atEnd.ended).toBeUndefined();
    expect(atEnd.events).toEqual([]);
    expect(storage.listenerCount()).toBe(0);
  });

  test('a group lost while watched: each subscriber gets a reset with its last id, then ends with StreamGroupLost', async () => {
    const retention = new MemoryRetention({ retentionMs: 60_000 });
    const storage = new MemoryWorkflowLogStorage({ historyLimit: 100, retentionMs: 60_000, retention });
    const stream = new WorkflowLog(storage, { subscriberBufferLimit: 100 }).stream(definition);
    await stream.set('g', 'a', { message: 'one' });
    await stream.set('g', 'a', { message: 'two' });
    const all = watch(stream, 'g');
    const late = watch(stream, 'g', '1');
    await expect.poll(() => all.events.length + late.events.length).toBe(3);
    retention.finish('g');
    retention.evictOldest();
    expect(await all.ended).toBeInstanceOf(StreamGroupLost);
    expect(await late.ended).toBeInstanceOf(StreamGroupLost);
    expect(all.ids()).toEqual(['set:1', 'set:2', 'reset:2']);
    expect(late.ids()).toEqual(['set:2', 'reset:2']);
    expect(storage.listenerCount()).toBe(0);
    retention.close();
  });

  test('a failing history read ends the subscription with its error', async () => {
    const { storage, stream } = setup();
    storage.gate = Promise.reject(new Error('storage down'));
    const failed = watch(stream, 'g');
    expect(await failed.ended).toEqual(new Error('storage down'));
    expect(storage.listenerCount()).toBe(0);
  });
});

/** A fan-out subscription of `streams` collecting what it gets. */
function watchStreams(
  log: WorkflowLog,
  groupId: string,
  streams: readonly string[],
  after: string | null = null,
) {
  const events: StoredEvent[] = [];
  const ended = createDeferred<unknown>();
  const stop = log.fanOut.subscribe(
    groupId,
    { after, streams, resetStream: streams[0] ?? 'progress' },
    { event: (event) => events.push(event), end: (error) => ended.resolve(error) },
  );
  return {
    events,
    ended: ended.promise,
    stop,
    ids: () => events.map((event) => `${event.stream}:${event.kind}:${event.eventId}`),
  };
}

describe('WorkflowFanOut: the streams of one workflow log', () => {
  test('one storage listener per workflow, whatever the streams watched; each subscriber gets its own streams', async () => {
    const { storage, log, stream } = setup();
    const notes = log.stream(notesDefinition);
    await stream.set('g', 'a', { message: 'one' });
    await notes.set('g', 'a', { note: 'first note' });
    const progress = watchStreams(log, 'g', ['progress']);
    const both = watchStreams(log, 'g', ['progress', 'notes']);
    const onlyNotes = watchStreams(log, 'g', ['notes'], '1');
    // No stream: the finished event alone.
    const none = watchStreams(log, 'g', []);
    expect(storage.listenerCount()).toBe(1);
    expect(log.fanOut.groupCount).toBe(1);
    await notes.set('g', 'b', { note: 'second note' });
    await stream.set('g', 'a', { message: 'two' });
    await notes.finish('g', { note: 'done' });
    for (const watcher of [progress, both, onlyNotes, none]) expect(await watcher.ended).toBeUndefined();
    expect(progress.ids()).toEqual(['progress:set:1', 'progress:set:4', 'notes:finished:5']);
    expect(both.ids()).toEqual([
      'progress:set:1',
      'notes:set:2',
      'notes:set:3',
      'progress:set:4',
      'notes:finished:5',
    ]);
    expect(onlyNotes.ids()).toEqual(['notes:set:2', 'notes:set:3', 'notes:finished:5']);
    expect(none.ids()).toEqual(['notes:finished:5']);
    expect(storage.listenerCount()).toBe(0);
    expect(log.fanOut.groupCount).toBe(0);
  });

  test("a subscriber resuming after another stream's event misses nothing of its own and repeats nothing", async () => {
    const { log, stream } = setup();
    const notes = log.stream(notesDefinition);
    await stream.set('g', 'a', { message: 'one' });
    await notes.set('g', 'a', { note: 'aside' });
    await stream.set('g', 'a', { message: 'two' });
    await stream.finish('g', { message: 'done' });
    const resumed = watchStreams(log, 'g', ['progress'], '2');
    expect(await resumed.ended).toBeUndefined();
    expect(resumed.ids()).toEqual(['progress:set:3', 'progress:finished:4']);
  });

  test('subscriptions are counted per stream they watch, unless not observed', async () => {
    const storage = new MemoryWorkflowLogStorage({ historyLimit: 100, retentionMs: 60_000 });
    const counts = new Map<string, number>();
    const count = (stream: string, by: number) => counts.set(stream, (counts.get(stream) ?? 0) + by);
    const log = new WorkflowLog(storage, {
      subscriberBufferLimit: 100,
      observer: {
        delivered: () => undefined,
        subscribed: (stream) => count(stream, 1),
        unsubscribed: (stream) => count(stream, -1),
      },
    });
    const both = watchStreams(log, 'g', ['progress', 'notes']);
    const unobserved = log.fanOut.subscribe(
      'g',
      { after: null, streams: ['progress'], resetStream: 'progress', observed: false },
      { event: () => undefined, end: () => undefined },
    );
    expect(Object.fromEntries(counts)).toEqual({ progress: 1, notes: 1 });
    both.stop();
    both.stop();
    unobserved();
    expect(Object.fromEntries(counts)).toEqual({ progress: 0, notes: 0 });
    expect(storage.listenerCount()).toBe(0);
  });
});

describe('ephemeral events and latest-only subscribers in the fan-out', () => {
  test('a send reaches the live subscribers of its stream only, with each one’s position as its id', async () => {
    const { storage, log, stream } = setup();
    const notes = log.stream(notesDefinition);
    await stream.set('g', 'a', { message: 'one' });
    const live = watch(stream, 'g');
    const other = watch(notes, 'g');
    await vi.waitFor(() => expect(live.ids()).toEqual(['set:1']));
    // Still reading its history: it misses the send rather than getting it out of order.
    storage.gate = new Promise(() => undefined);
    const catchingUp = watch(stream, 'g');
    await stream.send('g', { itemId: 'draft', data: { message: 'typing' } });
    await notes.set('g', 'n', { note: 'noted' });
    await stream.send('g', { itemId: 'draft', data: { message: 'typing more' } });
    expect(live.events.map((event) => [event.kind, event.eventId, event.data])).toEqual([
      ['set', '1', { message: 'one' }],
      ['ephemeral', '1', { message: 'typing' }],
      // The notes event moved its position, though it is not one of its streams.
      ['ephemeral', '2', { message: 'typing more' }],
    ]);
    expect(other.ids()).toEqual(['set:2']);
    expect(catchingUp.events).toEqual([]);
    storage.gate = Promise.resolve();
    expect((await storage.readAfter('g', null)).events.map((event) => event.kind)).toEqual(['set', 'set']);
    await expect(stream.send('g', { itemId: 'draft', data: { wrong: true } as never })).rejects.toThrow();
    for (const w of [live, other, catchingUp]) w.stop();
  });

  test('latest: current values in log order, then live events after the position read; with a resume point, the log', async () => {
    const { log, stream } = setup();
    await stream.set('g', 'a', { message: 'a1' });
    await stream.set('g', 'b', { message: 'b1' });
    await stream.set('g', 'a', { message: 'a2' });
    await stream.delete('g', 'b');
    const events: StoredEvent[] = [];
    const ended = createDeferred<unknown>();
    const subscribe = (after: string | null, into: StoredEvent[]) =>
      log.push(
        'g',
        { after, from: 'latest', streams: ['progress'] },
        {
          event: (event) => into.push(event),
          end: (error) => ended.resolve(error),
        },
      );
    subscribe(null, events);
    await vi.waitFor(() => expect(events.map((event) => event.eventId)).toEqual(['3']));
    await stream.set('g', 'c', { message: 'c1' });
    await stream.finish('g', { message: 'done' });
    expect(await ended.promise).toBeUndefined();
    expect(events.map((event) => `${event.kind}:${event.eventId}`)).toEqual(['set:3', 'set:5', 'finished:6']);

    const resumed: StoredEvent[] = [];
    subscribe('2', resumed);
    await vi.waitFor(() => expect(resumed.at(-1)?.kind).toBe('finished'));
    expect(resumed.map((event) => `${event.kind}:${event.eventId}`)).toEqual([
      'set:3',
      'delete:4',
      'set:5',
      'finished:6',
    ]);
  });
});
