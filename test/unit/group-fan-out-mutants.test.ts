/**
 * Shared group delivery (`Stream.push`) in the cases the broader tests leave
 * open: events that arrive only live, a history read that events overtake,
 * by as many as the buffer holds or one more, subscribers that stop while
 * their history is read, and event ids past 9 or shaped as Redis ids.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import { z } from 'zod';

import { createDeferred } from '../../shared/deferred.js';
import { MemoryTraceStore } from '../../server/engine/traces/memory-trace-store.js';
import { MemoryRetention } from '../../server/engine/backends/memory-retention.js';
import { ObservedStreamStorage } from '../../server/engine/observability/observed-stream-storage.js';
import { StreamStats } from '../../server/engine/observability/stream-stats.js';
import { StreamReader } from '../../server/engine/backends/redis/stream-reader.js';
import { WorkflowFanOut } from '../../server/engine/subscriptions/fan-out.js';
import { defineStream, type Stream } from '../../server/engine/streams/define-stream.js';
import { StreamGroupLost } from '../../server/engine/streams/group-lost.js';
import { MemoryWorkflowLogStorage } from '../../server/engine/streams/memory-storage.js';
import { RedisWorkflowLogStorage } from '../../server/engine/streams/redis-storage.js';
import type { HistoryRead, LiveListener, StoredEvent } from '../../server/engine/streams/storage.js';
import { WorkflowLog } from '../../server/engine/streams/workflow-log.js';
import { collect } from '../support/async.js';
import { redisFixture, silentLogger } from '../support/redis.js';

const definition = defineStream({ name: 'progress', schema: z.object({ message: z.string() }) });

/**
 * Memory storage whose history reads can be held: with `hold`, a read takes
 * its snapshot at once and answers when `hold` resolves (what is written
 * meanwhile reaches the subscriber only live); with `gate`, it waits for
 * `gate` and then takes its snapshot (what is written meanwhile is both in the
 * history and live). `failing` makes the next read reject after `hold`.
 */
class HeldStorage extends MemoryWorkflowLogStorage {
  hold: Promise<void> | null = null;
  gate: Promise<void> | null = null;
  failing: Error | null = null;
  reads = 0;
  override async readAfter(groupId: string, after: string | null): Promise<HistoryRead> {
    this.reads += 1;
    const { hold, gate, failing } = this;
    if (gate) await gate;
    const history = await super.readAfter(groupId, after);
    if (hold) await hold;
    if (failing) throw failing;
    return history;
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A stream over a held memory storage, observed as the service observes it (stream stats). */
function setup(options: { readonly bufferLimit?: number; readonly historyLimit?: number } = {}) {
  const storage = new HeldStorage({ historyLimit: options.historyLimit ?? 100, retentionMs: 60_000 });
  const traces = new MemoryTraceStore({ maxTraces: 10, maxEntries: 1000, retentionMs: 60_000 });
  const stats = new StreamStats();
  const stream = new WorkflowLog(new ObservedStreamStorage(storage, traces, stats), {
    subscriberBufferLimit: options.bufferLimit ?? 100,
    observer: stats,
  }).stream(definition);
  cleanups.push(
    () => storage.close(),
    () => traces.close(),
  );
  /** Deliveries counted, how many of them live (the lag histogram counts only those), open subscriptions. */
  const figures = () => {
    const progress = [...stats.streams()].find(([name]) => name === 'progress')?.[1];
    return {
      delivered: progress?.delivered ?? 0,
      live: progress?.lagCount ?? 0,
      active: progress?.active ?? 0,
    };
  };
  return { storage, stream, figures };
}

/** A push subscription collecting what it gets; `stopSelfAt` stops it from inside its sink. */
function watch(stream: Stream<unknown>, groupId: string, after: string | null = null, stopSelfAt?: string) {
  const events: StoredEvent[] = [];
  const ended = createDeferred<unknown>();
  let endCalls = 0;
  const stop: () => void = stream.push(groupId, after, {
    event: (event) => {
      events.push(event);
      if (event.eventId === stopSelfAt) stop();
    },
    end: (error) => {
      endCalls += 1;
      ended.resolve(error);
    },
  });
  return {
    events,
    ended: ended.promise,
    endCalls: () => endCalls,
    stop,
    ids: () => events.map((event) => `${event.kind}:${event.eventId}`),
  };
}

const until = (check: () => void) => vi.waitFor(check, { timeout: 2000, interval: 1 });
const settle = () => new Promise((resolve) => setImmediate(resolve));
const write = (stream: Stream<unknown>, groupId: string, messages: readonly string[]) =>
  messages.reduce<Promise<unknown>>(
    (previous, message) => previous.then(() => stream.set(groupId, 'a', { message })),
    Promise.resolve(),
  );

describe('Stream.push: live delivery', () => {
  test('a group with nothing written yet: every event arrives live, once, in order, and the subscription ends after finished', async () => {
    // No observer: nothing may depend on one.
    const storage = new MemoryWorkflowLogStorage({ historyLimit: 100, retentionMs: 60_000 });
    cleanups.push(() => storage.close());
    const stream = new WorkflowLog(storage, { subscriberBufferLimit: 100 }).stream(definition);
    const watcher = watch(stream, 'g');
    await write(stream, 'g', ['one', 'two', 'three']);
    await stream.finish('g', { message: 'done' });
    expect(await watcher.ended).toBeUndefined();
    expect(watcher.ids()).toEqual(['set:1', 'set:2', 'set:3', 'finished:4']);
    expect(storage.listenerCount()).toBe(0);
  });

  test('after the history, each later event is delivered live; the metrics count history and live apart', async () => {
    const { stream, figures } = setup();
    await write(stream, 'g', ['one', 'two']);
    const watcher = watch(stream, 'g');
    await until(() => expect(watcher.events).toHaveLength(2));
    expect(figures()).toEqual({ delivered: 2, live: 0, active: 1 });
    await write(stream, 'g', ['three', 'four']);
    await stream.finish('g', { message: 'done' });
    expect(await watcher.ended).toBeUndefined();
    expect(watcher.ids()).toEqual(['set:1', 'set:2', 'set:3', 'set:4', 'finished:5']);
    expect(figures()).toEqual({ delivered: 5, live: 3, active: 0 });
  });

  test('a finished event read from history ends the subscription; what was written after it is not delivered', async () => {
    const { stream, storage, figures } = setup();
    await write(stream, 'g', ['one']);
    await stream.finish('g', { message: 'done' });
    await write(stream, 'g', ['after the end']);
    const watcher = watch(stream, 'g');
    expect(await watcher.ended).toBeUndefined();
    expect(watcher.ids()).toEqual(['set:1', 'finished:2']);
    expect(figures()).toEqual({ delivered: 2, live: 0, active: 0 });
    expect(storage.listenerCount()).toBe(0);
  });

  test('after event 9, events 10 and 11 are later (ids compare as numbers, not as text)', async () => {
    const { stream } = setup();
    const nine = Array.from({ length: 9 }, (_, i) => `${i + 1}`);
    await write(stream, 'g', nine);
    const watcher = watch(stream, 'g');
    await until(() => expect(watcher.events).toHaveLength(9));
    await write(stream, 'g', ['10', '11']);
    await stream.finish('g', { message: 'done' });
    expect(await watcher.ended).toBeUndefined();
    expect(watcher.ids().slice(8)).toEqual(['set:9', 'set:10', 'set:11', 'finished:12']);
  });

  test('events 9 to 11, both read in the history and heard live, are delivered once', async () => {
    const { stream, storage } = setup();
    await write(stream, 'g', ['1', '2', '3', '4', '5', '6', '7', '8']);
    // The read waits, then takes its snapshot: what is written meanwhile is in it and live.
    const gate = createDeferred<void>();
    storage.gate = gate.promise;
    const watcher = watch(stream, 'g');
    await write(stream, 'g', ['9', '10', '11']);
    storage.gate = null;
    gate.resolve();
    await until(() => expect(watcher.events).toHaveLength(11));
    await stream.finish('g', { message: 'done' });
    expect(await watcher.ended).toBeUndefined();
    expect(watcher.ids()).toEqual(
      Array.from({ length: 12 }, (_, i) => `${i === 11 ? 'finished' : 'set'}:${i + 1}`),
    );
  });
});

describe('Stream.push: events that overtake the history read', () => {
  test('as many as the buffer holds are delivered live after the history, in order, once', async () => {
    const { stream, storage, figures } = setup({ bufferLimit: 3 });
    await write(stream, 'g', ['one']);
    const hold = createDeferred<void>();
    storage.hold = hold.promise;
    const watcher = watch(stream, 'g');
    storage.hold = null;
    await write(stream, 'g', ['two', 'three', 'four']);
    hold.resolve();
    await until(() => expect(watcher.events).toHaveLength(4));
    await stream.finish('g', { message: 'done' });
    expect(await watcher.ended).toBeUndefined();
    expect(watcher.ids()).toEqual(['set:1', 'set:2', 'set:3', 'set:4', 'finished:5']);
    expect(storage.reads).toBe(1);
    expect(figures()).toEqual({ delivered: 5, live: 4, active: 0 });
  });

  test('one more than the buffer holds: the subscriber reads the history again and misses nothing', async () => {
    const { stream, storage, figures } = setup({ bufferLimit: 3 });
    await write(stream, 'g', ['one']);
    const hold = createDeferred<void>();
    storage.hold = hold.promise;
    const watcher = watch(stream, 'g');
    storage.hold = null;
    await write(stream, 'g', ['two', 'three', 'four', 'five']);
    hold.resolve();
    await until(() => expect(watcher.events).toHaveLength(5));
    await stream.finish('g', { message: 'done' });
    expect(await watcher.ended).toBeUndefined();
    expect(watcher.ids()).toEqual(['set:1', 'set:2', 'set:3', 'set:4', 'set:5', 'finished:6']);
    expect(storage.reads).toBe(2);
    expect(figures()).toEqual({ delivered: 6, live: 1, active: 0 });
  });

  test('a finished event among them ends the subscription: nothing written after it is delivered', async () => {
    const { stream, storage } = setup();
    await write(stream, 'g', ['one']);
    const hold = createDeferred<void>();
    storage.hold = hold.promise;
    const watcher = watch(stream, 'g');
    storage.hold = null;
    await stream.finish('g', { message: 'done' });
    await write(stream, 'g', ['after the end']);
    hold.resolve();
    expect(await watcher.ended).toBeUndefined();
    await settle();
    expect(watcher.ids()).toEqual(['set:1', 'finished:2']);
    expect(storage.listenerCount()).toBe(0);
  });
});

describe('Stream.push: stopping', () => {
  test('stopped while its history is read: it gets nothing, not even the reset, and never ends', async () => {
    const { stream, storage, figures } = setup({ historyLimit: 2 });
    await write(stream, 'g', ['one', 'two', 'three', 'four']);
    const hold = createDeferred<void>();
    storage.hold = hold.promise;
    const watcher = watch(stream, 'g', '1');
    watcher.stop();
    storage.hold = null;
    await write(stream, 'g', ['five']);
    hold.resolve();
    await stream.finish('g', { message: 'done' });
    await settle();
    expect(watcher.events).toEqual([]);
    expect(watcher.endCalls()).toBe(0);
    expect(figures()).toEqual({ delivered: 0, live: 0, active: 0 });
    expect(storage.listenerCount()).toBe(0);
  });

  test('stopped from its own sink on a history event: nothing more, neither history nor what overtook it', async () => {
    const { stream, storage } = setup();
    await write(stream, 'g', ['one', 'two', 'three']);
    const hold = createDeferred<void>();
    storage.hold = hold.promise;
    const first = watch(stream, 'g', null, '1');
    const last = watch(stream, 'g', null, '3');
    storage.hold = null;
    await write(stream, 'g', ['four']);
    hold.resolve();
    await stream.finish('g', { message: 'done' });
    await settle();
    expect(first.ids()).toEqual(['set:1']);
    expect(last.ids()).toEqual(['set:1', 'set:2', 'set:3']);
    expect(first.endCalls() + last.endCalls()).toBe(0);
    expect(storage.listenerCount()).toBe(0);
  });

  test('a history read that fails after the subscriber stopped does not end it', async () => {
    const { stream, storage } = setup();
    const hold = createDeferred<void>();
    storage.hold = hold.promise;
    storage.failing = new Error('storage down');
    const watcher = watch(stream, 'g');
    watcher.stop();
    hold.resolve();
    await settle();
    expect(watcher.endCalls()).toBe(0);
  });

  test('one of two subscribers stopping (twice) leaves the other live, and counts one subscription less', async () => {
    const { stream, storage, figures } = setup();
    await write(stream, 'g', ['one']);
    const leaving = watch(stream, 'g');
    const staying = watch(stream, 'g');
    await until(() => expect(staying.events).toHaveLength(1));
    expect(figures().active).toBe(2);
    leaving.stop();
    leaving.stop();
    expect(figures().active).toBe(1);
    expect(storage.listenerCount()).toBe(1);
    await write(stream, 'g', ['two']);
    await stream.finish('g', { message: 'done' });
    expect(await staying.ended).toBeUndefined();
    expect(staying.ids()).toEqual(['set:1', 'set:2', 'finished:3']);
    expect(leaving.ids()).toEqual(['set:1']);
    expect(figures().active).toBe(0);
    expect(storage.listenerCount()).toBe(0);
  });
});

describe('Stream.push: event ids compare by value, whatever their spelling', () => {
  test('resuming after `1-0` is resuming after `1`: the next event is delivered, as `subscribe` delivers it', async () => {
    const storage = new MemoryWorkflowLogStorage({ historyLimit: 100, retentionMs: 60_000 });
    cleanups.push(() => storage.close());
    const stream = new WorkflowLog(storage, { subscriberBufferLimit: 100 }).stream(definition);
    await write(stream, 'g', ['one']);
    const pulled = collect(stream.subscribe('g', { after: '1-0' }));
    const watcher = watch(stream, 'g', '1-0');
    await write(stream, 'g', ['two']);
    await stream.finish('g', { message: 'done' });
    // Memory storage delivers live events as they are appended: a dropped one fails here at once.
    await settle();
    expect(watcher.ids()).toEqual(['set:2', 'finished:3']);
    expect(watcher.endCalls()).toBe(1);
    expect((await pulled).map((event) => event.eventId)).toEqual(['2', '3']);
  });

  /** Redis-shaped ids chosen here: the history read returns `history`, and `overtaking` arrive live during it. */
  class ScriptedIds extends MemoryWorkflowLogStorage {
    #listener: LiveListener | undefined;
    constructor(
      readonly history: readonly StoredEvent[],
      readonly overtaking: readonly StoredEvent[],
    ) {
      super({ historyLimit: 100, retentionMs: 60_000 });
    }
    override listen(_groupId: string, listener: LiveListener): () => void {
      this.#listener = listener;
      return () => {
        this.#listener = undefined;
      };
    }
    override async readAfter(): Promise<HistoryRead> {
      for (const event of this.overtaking) this.emit(event);
      return { events: [...this.history], reset: false };
    }
    emit(event: StoredEvent): void {
      this.#listener?.(event);
    }
  }

  const event = (eventId: string, kind: 'set' | 'finished' = 'set'): StoredEvent => ({
    eventId,
    stream: 'progress',
    groupId: 'g',
    itemId: 'a',
    kind,
    data: null,
    time: new Date(0).toISOString(),
  });

  test('`5-10` comes before `6-1` though it is longer: heard again live, it is not delivered twice', async () => {
    const storage = new ScriptedIds(
      [event('5-9'), event('5-10'), event('6-1')],
      [event('5-10'), event('6-1'), event('6-2')],
    );
    cleanups.push(() => storage.close());
    const stream = new WorkflowLog(storage, { subscriberBufferLimit: 100 }).stream(definition);
    const watcher = watch(stream, 'g');
    await until(() => expect(watcher.events).toHaveLength(4));
    storage.emit(event('6-3', 'finished'));
    expect(watcher.ids()).toEqual(['set:5-9', 'set:5-10', 'set:6-1', 'set:6-2', 'finished:6-3']);
    expect(watcher.endCalls()).toBe(1);
  });
});

describe('Stream.push: a subscriber of one of a workflow’s streams', () => {
  test('events of another stream that overtake its history read hold back none of its own', async () => {
    const storage = new HeldStorage({ historyLimit: 100, retentionMs: 60_000 });
    cleanups.push(() => storage.close());
    const log = new WorkflowLog(storage, { subscriberBufferLimit: 100 });
    const progress = log.stream(definition);
    const notes = log.stream(defineStream({ name: 'notes', schema: definition.schema }));
    await write(progress, 'g', ['one']);
    const hold = createDeferred<void>();
    storage.hold = hold.promise;
    const watcher = watch(progress, 'g');
    storage.hold = null;
    await notes.set('g', 'n', { message: 'a note' });
    await write(progress, 'g', ['two']);
    hold.resolve();
    await settle();
    expect(watcher.ids()).toEqual(['set:1', 'set:3']);
    await progress.finish('g', { message: 'done' });
    expect(await watcher.ended).toBeUndefined();
    expect(watcher.ids()).toEqual(['set:1', 'set:3', 'finished:4']);
  });
});

describe('Stream.subscribe: the buffer bounds live events only', () => {
  const ids = (events: readonly StoredEvent[]) => events.map((event) => `${event.kind}:${event.eventId}`);

  test('a history longer than the buffer reaches a pulling reader whole, in one read', async () => {
    const { stream, storage } = setup({ bufferLimit: 2 });
    await write(stream, 'g', ['one', 'two', 'three', 'four']);
    await stream.finish('g', { message: 'done' });
    expect(ids(await collect(stream.subscribe('g')))).toEqual([
      'set:1',
      'set:2',
      'set:3',
      'set:4',
      'finished:5',
    ]);
    expect(storage.reads).toBe(1);
  });

  test('a reader more live events behind than the buffer holds catches up from storage, missing nothing', async () => {
    const { stream, storage } = setup({ bufferLimit: 2 });
    await write(stream, 'g', ['one']);
    const subscription = stream.subscribe('g');
    expect((await subscription.next()).value?.eventId).toBe('1');
    await write(stream, 'g', ['two', 'three', 'four']);
    await stream.finish('g', { message: 'done' });
    expect(ids(await collect(subscription))).toEqual(['set:2', 'set:3', 'set:4', 'finished:5']);
    expect(storage.reads).toBe(2);
  });

  test('a reader with a full buffer whose workflow is lost gets what it holds, the reset, then StreamGroupLost', async () => {
    const retention = new MemoryRetention({ retentionMs: 60_000 });
    const storage = new HeldStorage({ historyLimit: 100, retentionMs: 60_000, retention });
    cleanups.push(
      () => storage.close(),
      () => retention.close(),
    );
    const stream = new WorkflowLog(storage, { subscriberBufferLimit: 2 }).stream(definition);
    await write(stream, 'g', ['one']);
    const subscription = stream.subscribe('g');
    expect((await subscription.next()).value?.eventId).toBe('1');
    await write(stream, 'g', ['two', 'three']);
    retention.finish('g');
    retention.evictOldest();
    // Nothing is read again: what it holds is enough.
    storage.failing = new Error('read again');
    const seen: StoredEvent[] = [];
    const read = async () => {
      for await (const event of subscription) seen.push(event);
    };
    await expect(read()).rejects.toBeInstanceOf(StreamGroupLost);
    expect(ids(seen)).toEqual(['set:2', 'set:3', 'reset:3']);
  });
});

describe('WorkflowFanOut', () => {
  const from = (after: string | null, streams: readonly string[] = ['progress']) => ({
    after,
    streams,
    resetStream: 'progress',
  });

  test.each([0, -1, 1.5, Number.NaN])('refuses a buffer limit of %d', (bufferLimit) => {
    const storage = new MemoryWorkflowLogStorage({ historyLimit: 10, retentionMs: 0 });
    cleanups.push(() => storage.close());
    expect(() => new WorkflowFanOut({ storage, bufferLimit })).toThrow(
      new TypeError(`Expected \`bufferLimit\` to be an integer >= 1, got \`${bufferLimit}\``),
    );
  });

  test('holds one storage listener per watched workflow, and none once every subscriber has gone', async () => {
    const storage = new MemoryWorkflowLogStorage({ historyLimit: 10, retentionMs: 60_000 });
    cleanups.push(() => storage.close());
    const fanOut = new WorkflowFanOut({ storage, bufferLimit: 1 });
    const sink = { event: () => {}, end: () => {} };
    const stops = [
      fanOut.subscribe('a', from(null), sink),
      fanOut.subscribe('a', from(null, ['notes']), sink),
      fanOut.subscribe('b', from(null), sink),
    ];
    expect(fanOut.groupCount).toBe(2);
    expect(storage.listenerCount()).toBe(2);
    for (const stop of stops) stop();
    expect(fanOut.groupCount).toBe(0);
    expect(storage.listenerCount()).toBe(0);
  });
});

describe('Stream.push on Redis ids', () => {
  const redis = redisFixture();
  afterAll(() => redis.cleanup());

  class GatedRedisStorage extends RedisWorkflowLogStorage {
    gate: Promise<void> | null = null;
    override async readAfter(groupId: string, after: string | null): Promise<HistoryRead> {
      if (this.gate) await this.gate;
      return super.readAfter(groupId, after);
    }
  }

  function setupRedis() {
    const connections = redis.connect();
    const reader = new StreamReader({
      reader: connections.streamReader,
      commands: connections.commands,
      wakeKey: redis.keys.readerWake(randomUUID()),
      log: silentLogger(),
    });
    const storage = new GatedRedisStorage({
      client: connections.commands,
      reader,
      keys: redis.keys,
      historyLimit: 100,
      retentionMs: 60_000,
    });
    cleanups.push(
      () => storage.close(),
      () => reader.close(),
    );
    return {
      storage,
      stream: new WorkflowLog(storage, { subscriberBufferLimit: 100 }).stream(definition),
    };
  }

  test('events both in the history and live are delivered once; later ones live, in order', async () => {
    const { storage, stream } = setupRedis();
    const group = randomUUID();
    await write(stream, group, ['one', 'two']);
    const gate = createDeferred<void>();
    storage.gate = gate.promise;
    const watcher = watch(stream, group);
    await write(stream, group, ['three', 'four']);
    storage.gate = null;
    gate.resolve();
    await until(() => expect(watcher.events).toHaveLength(4));
    await write(stream, group, ['five']);
    await stream.finish(group, { message: 'done' });
    expect(await watcher.ended).toBeUndefined();
    const messages = watcher.events.map((event) => (event.data as { message: string }).message);
    expect(messages).toEqual(['one', 'two', 'three', 'four', 'five', 'done']);
    expect(new Set(watcher.events.map((event) => event.eventId)).size).toBe(6);
    expect(watcher.events.every((event) => /^\d+-\d+$/.test(event.eventId))).toBe(true);
  });

  test('resuming after an id of a log Redis lost: a reset, then the new events, though their ids are shorter', async () => {
    const { stream } = setupRedis();
    const group = randomUUID();
    // The last id the watcher saw, 11 events into one millisecond of the lost log.
    const lostId = `${Date.now() - 60_000}-10`;
    const watcher = watch(stream, group, lostId);
    await until(() => expect(watcher.ids()).toEqual([`reset:${lostId}`]));
    await write(stream, group, ['written again']);
    await stream.finish(group, { message: 'done' });
    await until(() =>
      expect(watcher.events.map((event) => event.kind)).toEqual(['reset', 'set', 'finished']),
    );
    expect(await watcher.ended).toBeUndefined();
  });
});
