import { describe, expect, test } from 'vitest';

import { createDeferred } from '../../shared/deferred.js';
import { MemoryRetention, type DropReason } from '../../server/engine/backends/memory-retention.js';

function retention(options: { retentionMs?: number; maxFinished?: number; maxBytes?: number } = {}) {
  const kept = new MemoryRetention({ retentionMs: 60_000, ...options });
  const drops: string[] = [];
  kept.onDrop((id, reason: DropReason) => drops.push(`${reason}:${id}`));
  return { kept, drops };
}

describe('MemoryRetention', () => {
  test('beyond maxFinished, the oldest finished is evicted; finishing twice changes nothing', () => {
    const { kept, drops } = retention({ maxFinished: 2 });
    kept.grow('running', 10);
    for (const id of ['a', 'b', 'b', 'c']) kept.finish(id);
    expect(drops).toEqual(['evicted:a']);
    expect(kept.finishedCount).toBe(2);
    expect(kept.evictedTotal).toBe(1);
    expect(kept.isFinished('a')).toBe(false);
    expect(kept.isFinished('running')).toBe(false);
    kept.close();
  });

  test('beyond maxBytes, finished ones make room, oldest first; running ones are never evicted', () => {
    const { kept, drops } = retention({ maxBytes: 100 });
    kept.grow('running', 60);
    kept.grow('old', 20);
    kept.finish('old');
    kept.grow('new', 20);
    kept.finish('new');
    expect(drops).toEqual([]);
    // 101 bytes: one finished workflow has to go, the oldest.
    kept.grow('running', 1);
    expect(drops).toEqual(['evicted:old']);
    expect(kept.bytes).toBe(81);
    // Running alone above the bound: the last finished one goes, then nothing more can.
    kept.grow('running', 100);
    expect(drops).toEqual(['evicted:old', 'evicted:new']);
    expect(kept.bytes).toBe(161);
    expect(kept.evictOldest()).toBe(false);
    kept.close();
  });

  test('a finished workflow expires after retentionMs, in the order they finished', async () => {
    const { kept, drops } = retention({ retentionMs: 5 });
    const bothGone = createDeferred<void>();
    kept.onDrop(() => {
      if (drops.length === 2) bothGone.resolve();
    });
    kept.grow('b', 10);
    kept.finish('b');
    kept.finish('a');
    await bothGone.promise;
    expect(drops).toEqual(['expired:b', 'expired:a']);
    expect(kept.bytes).toBe(0);
    expect(kept.evictedTotal).toBe(0);
    kept.close();
  });

  test('shrinking below zero counts as zero; close forgets everything', () => {
    const { kept } = retention();
    kept.grow('a', 10);
    kept.grow('a', -30);
    expect(kept.bytes).toBe(0);
    kept.grow('a', 5);
    kept.finish('a');
    kept.close();
    expect([kept.bytes, kept.finishedCount]).toEqual([0, 0]);
  });

  test('rejects bad options with a clear message', () => {
    expect(() => new MemoryRetention({ retentionMs: -1 })).toThrow(
      'Expected `retentionMs` to be an integer >= 0, got `-1`',
    );
    expect(() => new MemoryRetention({ retentionMs: 0, maxFinished: 0 })).toThrow(
      'Expected `maxFinished` to be an integer >= 1, got `0`',
    );
    expect(() => new MemoryRetention({ retentionMs: 0, maxBytes: 1.5 })).toThrow(
      'Expected `maxBytes` to be an integer >= 1, got `1.5`',
    );
  });
});
