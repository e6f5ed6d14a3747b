import { describe, expect, test, vi } from 'vitest';

import { MemoryTraceStore } from '../../server/engine/traces/memory-trace-store.js';
import { MemoryRetention } from '../../server/engine/backends/memory-retention.js';

const log = (msg: string) => ({ kind: 'log', level: 'info', msg, step: null }) as const;

describe('MemoryTraceStore', () => {
  test('keeps the newest entries of a trace and says how many were dropped', async () => {
    const store = new MemoryTraceStore({ maxTraces: 10, maxEntries: 3, retentionMs: 1000 });
    for (const n of [1, 2, 3, 4, 5]) store.record('t', log(`line ${n}`));
    const trace = await store.get('t');
    expect(trace?.entries.map((e) => [e.seq, e.kind === 'log' ? e.msg : ''])).toEqual([
      [3, 'line 3'],
      [4, 'line 4'],
      [5, 'line 5'],
    ]);
    expect(trace).toMatchObject({ entryCount: 5, droppedEntries: 2 });
    // Resuming from before the kept entries is a gap; from within them is not.
    expect(await store.readAfter('t', 1)).toMatchObject({ reset: true });
    expect(await store.readAfter('t', 3)).toMatchObject({ reset: false, entries: [{ seq: 4 }, { seq: 5 }] });
    expect(await store.readAfter('unknown', null)).toBeNull();
    await store.close();
  });

  test('tells live listeners of new entries and of the trace being dropped', async () => {
    const store = new MemoryTraceStore({ maxTraces: 1, maxEntries: 10, retentionMs: 1000 });
    const entries: number[] = [];
    const gone = vi.fn();
    const unlisten = store.listen('a', { entry: (e) => entries.push(e.seq), gone });
    store.record('a', log('one'));
    store.record('b', log('another trace pushes the first one out'));
    expect(entries).toEqual([1]);
    expect(gone).toHaveBeenCalledOnce();
    expect(await store.get('a')).toBeNull();
    expect(store.size()).toBe(1);
    unlisten();
    expect(store.listenerCount()).toBe(0);
    await store.close();
  });

  test('beyond maxTraces, a finished workflow makes room before a running one, with its other memory stores', async () => {
    const retention = new MemoryRetention({ retentionMs: 60_000 });
    const dropped: string[] = [];
    retention.onDrop((id) => dropped.push(id));
    const store = new MemoryTraceStore({ maxTraces: 2, maxEntries: 10, retentionMs: 60_000, retention });
    store.record('running', log('still going'));
    store.record('done', log('done'));
    store.record('done', { kind: 'workflow_finished', outcomes: {} });
    store.record('new', log('a third trace'));
    expect(dropped).toEqual(['done']);
    expect(await store.get('done')).toBeNull();
    expect(await store.get('running')).not.toBeNull();
    expect(store.size()).toBe(2);
    await store.close();
    retention.close();
  });

  test('rejects bad options with a clear message', () => {
    expect(() => new MemoryTraceStore({ maxTraces: 0, maxEntries: 10, retentionMs: 0 })).toThrow(
      'Expected `maxTraces` to be an integer >= 1, got `0`',
    );
    expect(() => new MemoryTraceStore({ maxTraces: 1, maxEntries: 1.5, retentionMs: 0 })).toThrow(
      'Expected `maxEntries` to be an integer >= 1, got `1.5`',
    );
    expect(() => new MemoryTraceStore({ maxTraces: 1, maxEntries: 1, retentionMs: -1 })).toThrow(
      'Expected `retentionMs` to be an integer >= 0, got `-1`',
    );
  });
});
