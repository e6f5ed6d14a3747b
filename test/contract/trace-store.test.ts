/**
 * The TraceStore contract against memory and Redis, then what only a shared
 * store promises: one whole timeline whichever instance recorded which
 * entry, and live entries from every instance.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, describe, expect, onTestFinished, test, vi } from 'vitest';

import { MemoryTraceStore } from '../../server/engine/traces/memory-trace-store.js';
import { RedisTraceStore } from '../../server/engine/traces/redis-trace-store.js';
import type { TraceStore } from '../../server/engine/traces/trace-store.js';
import { RedisConnections } from '../../server/engine/backends/redis/connections.js';
import { RedisKeys } from '../../server/engine/backends/redis/keys.js';
import { StreamReader } from '../../server/engine/backends/redis/stream-reader.js';
import { traceKeysOf } from '../../server/engine/traces/redis-keys.js';
import type { TraceEntry, TraceEntryInput } from '../../shared/trace.js';
import { countKeys, redisFixture, silentLogger } from '../support/redis.js';
import { captureLogger } from '../support/test-config.js';

const redis = redisFixture();

type Limits = { maxTraces?: number; maxEntries?: number; retentionMs?: number };
const limits = (options: Limits) => ({
  maxTraces: options.maxTraces ?? 100,
  maxEntries: options.maxEntries ?? 100,
  retentionMs: options.retentionMs ?? 60_000,
});

/** One process's connections and its one live reader, polling fast so a vanished trace is noticed quickly. */
function openInstance(url?: string) {
  const connections = url
    ? new RedisConnections({ url, commandTimeoutMs: 200, log: silentLogger() })
    : redis.connect();
  const reader = new StreamReader({
    reader: connections.streamReader,
    commands: connections.commands,
    wakeKey: redis.keys.readerWake(randomUUID()),
    log: silentLogger(),
    blockMs: 50,
    verifyMs: 50,
  });
  return { connections, reader };
}
type Instance = ReturnType<typeof openInstance>;

const instances: Instance[] = [];
function instance(index: number): Instance {
  while (instances.length <= index) instances.push(openInstance());
  const opened = instances[index];
  if (!opened) throw new Error(`No instance ${index}`);
  return opened;
}
afterAll(async () => {
  for (const { reader } of instances) reader.close();
  await redis.cleanup();
});

/** Keys of their own for each test, under the file's prefix: list() and maxTraces see that test's traces only. */
const testKeys = () => new RedisKeys(`${redis.prefix}${randomUUID().slice(0, 8)}:`);

function redisStore(options: Limits, keys = testKeys(), on = instance(0)): RedisTraceStore {
  const store = new RedisTraceStore({
    client: on.connections.commands,
    reader: on.reader,
    keys,
    log: silentLogger(),
    ...limits(options),
  });
  onTestFinished(() => store.close());
  return store;
}

const implementations: { name: string; open: (options: Limits) => TraceStore }[] = [
  {
    name: 'memory',
    open: (options) => {
      const store = new MemoryTraceStore(limits(options));
      onTestFinished(() => store.close());
      return store;
    },
  },
  { name: 'redis', open: (options) => redisStore(options) },
];

const at = (second: number) => `2030-01-01T00:00:${String(second).padStart(2, '0')}.000Z`;
const log = (msg: string) => ({ kind: 'log', level: 'info', msg, step: null }) as const;
const started: TraceEntryInput = {
  kind: 'workflow_started',
  flow: 'petCreation',
  subject: 'Max',
  steps: ['A', 'B'],
};
const msgOf = (entry: TraceEntry) => (entry.kind === 'log' ? entry.msg : entry.kind);

describe.each(implementations)('TraceStore contract: $name', ({ open }) => {
  test('entries are numbered 1, 2, 3… per trace and read back in order; an unknown trace is null', async () => {
    const store = open({});
    store.record('a', started, at(1));
    store.record('a', log('one'), at(2));
    store.record('b', log('other trace'), at(3));
    store.record('a', { kind: 'emit', topic: 'pet.created' }, at(4));

    expect(await store.get('a')).toEqual({
      traceId: 'a',
      flow: 'petCreation',
      subject: 'Max',
      status: 'running',
      failedSteps: 0,
      startedAt: at(1),
      finishedAt: null,
      entryCount: 3,
      droppedEntries: 0,
      entries: [
        { seq: 1, at: at(1), ...started },
        { seq: 2, at: at(2), ...log('one') },
        { seq: 3, at: at(4), kind: 'emit', topic: 'pet.created' },
      ],
      stepRuns: [],
    });
    expect((await store.get('b'))?.entries).toEqual([{ seq: 1, at: at(3), ...log('other trace') }]);

    expect(await store.readAfter('a', 1)).toEqual({
      entries: [
        { seq: 2, at: at(2), ...log('one') },
        { seq: 3, at: at(4), kind: 'emit', topic: 'pet.created' },
      ],
      reset: false,
    });
    expect((await store.readAfter('a', null))?.entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(await store.readAfter('a', 3)).toEqual({ entries: [], reset: false });
    expect(await store.readAfter('a', 10)).toEqual({ entries: [], reset: false });
    expect(await store.get('unknown')).toBeNull();
    expect(await store.readAfter('unknown', null)).toBeNull();
  });

  test('an entry without a time is stamped with the current time', async () => {
    const store = open({});
    const before = Date.now();
    store.record('a', log('now'));
    const entry = (await store.get('a'))?.entries[0];
    expect(Date.parse(entry?.at ?? '')).toBeGreaterThanOrEqual(before);
    expect(Date.parse(entry?.at ?? '')).toBeLessThanOrEqual(Date.now());
  });

  test('keeps the newest maxEntries entries, counts the dropped ones, and a read from before them is a reset', async () => {
    const store = open({ maxEntries: 3 });
    for (const n of [1, 2, 3]) store.record('t', log(`line ${n}`));
    expect(await store.readAfter('t', null)).toMatchObject({ reset: false });
    expect(await store.get('t')).toMatchObject({ entryCount: 3, droppedEntries: 0 });

    for (const n of [4, 5]) store.record('t', log(`line ${n}`));
    const trace = await store.get('t');
    expect(trace?.entries.map((e) => [e.seq, msgOf(e)])).toEqual([
      [3, 'line 3'],
      [4, 'line 4'],
      [5, 'line 5'],
    ]);
    expect(trace).toMatchObject({ entryCount: 5, droppedEntries: 2 });
    // Seq 2 was dropped: a reader that saw only seq 1 missed it; one that saw seq 2 missed nothing.
    expect(await store.readAfter('t', null)).toMatchObject({ reset: true });
    expect(await store.readAfter('t', 1)).toMatchObject({ reset: true });
    expect(await store.readAfter('t', 2)).toEqual({ entries: trace?.entries, reset: false });
    expect(await store.readAfter('t', 4)).toMatchObject({ reset: false, entries: [{ seq: 5 }] });
  });

  test('lists traces newest first, page by page, with no duplicate and no gap while traces are added', async () => {
    const store = open({});
    for (const n of [1, 2, 3, 4, 5]) store.record(`t${n}`, log(`trace ${n}`), at(n));

    const first = await store.list({ limit: 2 });
    expect(first.items.map((item) => item.traceId)).toEqual(['t5', 't4']);
    expect(first.items[0]).toEqual({
      traceId: 't5',
      flow: null,
      subject: null,
      status: 'running',
      failedSteps: 0,
      startedAt: at(5),
      finishedAt: null,
      entryCount: 1,
      droppedEntries: 0,
    });
    // A new trace and a new entry of an older one do not move what the next pages hold.
    store.record('t6', log('trace 6'));
    store.record('t2', log('more of trace 2'));
    const second = await store.list({ limit: 2, cursor: first.nextCursor });
    expect(second.items.map((item) => item.traceId)).toEqual(['t3', 't2']);
    const third = await store.list({ limit: 2, cursor: second.nextCursor });
    expect(third).toMatchObject({ items: [{ traceId: 't1' }], nextCursor: null });

    // One page holding exactly every trace has no next page; one short of it has.
    const all = await store.list({ limit: 6 });
    expect(all.items.map((item) => item.traceId)).toEqual(['t6', 't5', 't4', 't3', 't2', 't1']);
    expect(all.nextCursor).toBeNull();
    const short = await store.list({ limit: 5 });
    expect(short.nextCursor).not.toBeNull();
    expect(await store.list({ limit: 5, cursor: short.nextCursor })).toMatchObject({
      items: [{ traceId: 't1' }],
      nextCursor: null,
    });
  });

  test('a listener gets each live entry of its trace once, in order, until it stops listening', async () => {
    const store = open({});
    store.record('a', log('before'));
    expect(await store.readAfter('a', null)).toMatchObject({ entries: [{ seq: 1 }] });

    const seen: TraceEntry[] = [];
    const stillListening: number[] = [];
    const gone = vi.fn();
    const unlisten = store.listen('a', { entry: (entry) => seen.push(entry), gone });
    const stop = store.listen('a', { entry: (entry) => stillListening.push(entry.seq), gone });
    expect(store.listenerCount()).toBe(2);

    store.record('b', log('another trace'));
    for (const n of [2, 3, 4]) store.record('a', log(`line ${n}`));
    await vi.waitFor(() => expect(seen.map((e) => e.seq)).toEqual([2, 3, 4]));
    expect(seen).toEqual((await store.readAfter('a', 1))?.entries);

    unlisten();
    expect(store.listenerCount()).toBe(1);
    store.record('a', log('line 5'));
    await vi.waitFor(() => expect(stillListening).toEqual([2, 3, 4, 5]));
    expect(seen.map((e) => e.seq)).toEqual([2, 3, 4]);
    stop();
    expect(store.listenerCount()).toBe(0);
    expect(gone).not.toHaveBeenCalled();
  });

  test('a finished workflow: status, finish time and failed steps, set once', async () => {
    const store = open({});
    const entries: TraceEntryInput[] = [
      started,
      { kind: 'step_started', step: 'A', attempt: 1 },
      {
        kind: 'step_finished',
        step: 'A',
        attempt: 1,
        status: 'failed',
        start: at(2),
        end: at(3),
        durationMs: 1000,
        error: 'boom',
      },
      { kind: 'workflow_finished', outcomes: { A: 'dead', B: 'succeeded' } },
      { kind: 'workflow_finished', outcomes: { A: 'dead', B: 'dead' } },
    ];
    entries.forEach((entry, i) => store.record('w', entry, at(i + 1)));

    const summary = {
      traceId: 'w',
      flow: 'petCreation',
      subject: 'Max',
      status: 'finished',
      failedSteps: 1,
      startedAt: at(1),
      finishedAt: at(4),
      entryCount: 5,
      droppedEntries: 0,
    };
    expect(await store.get('w')).toMatchObject({
      ...summary,
      stepRuns: [
        {
          step: 'A',
          attempt: 1,
          status: 'failed',
          start: at(2),
          end: at(3),
          durationMs: 1000,
          error: 'boom',
        },
      ],
    });
    expect((await store.list({ limit: 1 })).items).toEqual([summary]);
  });

  test('a finished trace is dropped after its retention time, its listeners told; running ones stay', async () => {
    const store = open({ retentionMs: 300 });
    store.record('running', log('still going'));
    store.record('done', started);
    store.record('done', { kind: 'workflow_finished', outcomes: {} });
    expect(await store.get('done')).not.toBeNull();
    const gone = vi.fn();
    store.listen('done', { entry: () => undefined, gone });

    await vi.waitFor(async () => expect(await store.get('done')).toBeNull(), { timeout: 5000, interval: 20 });
    expect(await store.readAfter('done', null)).toBeNull();
    await vi.waitFor(() => expect(gone).toHaveBeenCalledOnce(), { timeout: 5000, interval: 20 });
    expect(store.listenerCount()).toBe(0);
    expect((await store.list({ limit: 10 })).items.map((item) => item.traceId)).toEqual(['running']);
    expect(await store.get('running')).not.toBeNull();
  });

  test('beyond maxTraces the oldest finished trace goes first, the oldest trace when none is finished', async () => {
    const store = open({ maxTraces: 2 });
    store.record('running', log('still going'));
    store.record('done', log('done'));
    store.record('done', { kind: 'workflow_finished', outcomes: {} });
    expect(await store.get('done')).not.toBeNull();
    expect(store.size()).toBe(2);
    const gone = vi.fn();
    store.listen('done', { entry: () => undefined, gone });

    store.record('new', log('a third trace'));
    expect(await store.get('done')).toBeNull();
    expect(await store.get('running')).not.toBeNull();
    expect(store.size()).toBe(2);
    await vi.waitFor(() => expect(gone).toHaveBeenCalledOnce(), { timeout: 5000, interval: 20 });

    store.record('newer', log('a fourth trace'));
    expect((await store.list({ limit: 10 })).items.map((item) => item.traceId)).toEqual(['newer', 'new']);
    expect(store.size()).toBe(2);
    // A dropped trace recorded again starts over.
    store.record('running', log('again'));
    expect(await store.get('running')).toMatchObject({ entryCount: 1, entries: [{ seq: 1, msg: 'again' }] });
  });

  test('recording never throws, not even data JSON cannot hold or after close', async () => {
    const store = open({});
    const write = { kind: 'stream_write', stream: 's', eventId: '1', itemId: 'i', eventKind: 'set' } as const;
    expect(() => store.record('t', { ...write, data: 1n })).not.toThrow();
    store.record('t', log('after it'));
    expect((await store.get('t'))?.entries.at(-1)).toMatchObject({ msg: 'after it' });
    await store.close();
    expect(() => store.record('t', log('closed'))).not.toThrow();
  });
});

describe('TraceStore on Redis: several instances', () => {
  test('entries of one trace recorded on two instances at once form one whole timeline', async () => {
    const keys = testKeys();
    const a = redisStore({ maxEntries: 1000 }, keys, instance(0));
    const b = redisStore({ maxEntries: 1000 }, keys, instance(1));
    const liveOnA: TraceEntry[] = [];
    const liveOnB: TraceEntry[] = [];
    a.listen('t', { entry: (entry) => liveOnA.push(entry), gone: () => undefined });
    b.listen('t', { entry: (entry) => liveOnB.push(entry), gone: () => undefined });
    // A read answered after listen() means each listener has its start position.
    expect(await Promise.all([a.readAfter('t', null), b.readAfter('t', null)])).toEqual([null, null]);

    // Rounds in which both instances write at once; each instance's reads wait for its own writes.
    const rounds = 20;
    const perRound = 5;
    const perInstance = rounds * perRound;
    for (let round = 0; round < rounds; round += 1) {
      for (let i = round * perRound; i < (round + 1) * perRound; i += 1) {
        a.record('t', log(`A${i}`));
        b.record('t', log(`B${i}`));
      }
      await Promise.all([a.readAfter('t', null), b.readAfter('t', null)]);
    }
    const trace = await a.get('t');
    const entries = trace?.entries ?? [];
    expect(trace).toMatchObject({ entryCount: 2 * perInstance, droppedEntries: 0 });
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 2 * perInstance }, (_, i) => i + 1));
    // Every entry once, and each instance's entries in the order it recorded them.
    const messages = entries.map(msgOf);
    const expected = (name: string) => Array.from({ length: perInstance }, (_, i) => `${name}${i}`);
    expect(messages.filter((m) => m.startsWith('A'))).toEqual(expected('A'));
    expect(messages.filter((m) => m.startsWith('B'))).toEqual(expected('B'));
    // Both instances read the same timeline, and saw all of it live.
    expect((await b.get('t'))?.entries).toEqual(entries);
    await vi.waitFor(() => expect(liveOnB).toHaveLength(entries.length));
    await vi.waitFor(() => expect(liveOnA).toHaveLength(entries.length));
    expect(liveOnB).toEqual(entries);
    expect(liveOnA).toEqual(entries);
  });

  test('a workflow started on one instance and finished on another is seen finished, live, on both', async () => {
    const keys = testKeys();
    const a = redisStore({}, keys, instance(0));
    const b = redisStore({}, keys, instance(1));
    const liveOnB: TraceEntry[] = [];
    b.listen('w', { entry: (entry) => liveOnB.push(entry), gone: () => undefined });
    expect(await b.readAfter('w', null)).toBeNull();

    a.record('w', started, at(1));
    await a.readAfter('w', null);
    b.record('w', { kind: 'step_started', step: 'A', attempt: 1 }, at(2));
    await b.readAfter('w', null);
    a.record('w', { kind: 'workflow_finished', outcomes: { A: 'dead', B: 'succeeded' } }, at(3));

    await vi.waitFor(() => expect(liveOnB.map((e) => [e.seq, e.kind])).toHaveLength(3));
    expect(liveOnB.map((e) => [e.seq, e.kind])).toEqual([
      [1, 'workflow_started'],
      [2, 'step_started'],
      [3, 'workflow_finished'],
    ]);
    const summary = { status: 'finished', flow: 'petCreation', failedSteps: 1, finishedAt: at(3) };
    expect(await b.get('w')).toMatchObject(summary);
    expect((await b.list({ limit: 1 })).items).toMatchObject([summary]);
  });

  test('a finished trace leaves no key behind after its retention time', async () => {
    const keys = testKeys();
    const store = redisStore({ retentionMs: 100 }, keys);
    store.record('done', { kind: 'workflow_finished', outcomes: {} });
    await store.readAfter('done', null);
    expect(await countKeys(`${traceKeysOf(keys).traceBase}done:`)).toBe(2);
    await vi.waitFor(async () => expect(await countKeys(`${traceKeysOf(keys).traceBase}done:`)).toBe(0), {
      timeout: 5000,
      interval: 20,
    });
    // The next trace created takes the expired one out of the index.
    store.record('next', log('next'));
    await store.readAfter('next', null);
    const { commands } = instance(0).connections;
    expect(await commands.zrange(traceKeysOf(keys).index, 0, -1)).toEqual(['next']);
    expect(await commands.zcard(traceKeysOf(keys).finished)).toBe(0);
  });

  test('Redis unreachable: recording neither throws nor waits; lost entries are counted and logged once', async () => {
    const { log: logger, lines } = captureLogger();
    // Nothing listens on port 1.
    const unreachable = openInstance('redis://127.0.0.1:1');
    const store = new RedisTraceStore({
      client: unreachable.connections.commands,
      reader: unreachable.reader,
      keys: testKeys(),
      log: logger,
      maxQueued: 2,
      ...limits({}),
    });
    onTestFinished(async () => {
      await store.close();
      unreachable.reader.close();
      await unreachable.connections.close();
    });

    // The first goes out at once, two wait, the other two find the queue full.
    for (let i = 0; i < 5; i += 1) expect(() => store.record('t', log(`line ${i}`))).not.toThrow();
    expect(store.lostEntries).toBe(2);
    await vi.waitFor(() => expect(store.lostEntries).toBe(5), { timeout: 5000, interval: 20 });
    expect(lines.filter((line) => line.msg.startsWith('Trace entries cannot be written'))).toHaveLength(1);
  });
});
