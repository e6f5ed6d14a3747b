/**
 * `ctx.waitFor` alone, over the memory backends: its limits on both sides
 * (timeoutMs from 1 ms to a year, names, the announcing stream), an attempt
 * already aborted, and what it returns once its wait has ended.
 */
import { randomUUID } from 'node:crypto';

import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';

import { treatmentStream } from '../../server/app/pet-shelter/treatments/streams.js';
import { treatmentTopics } from '../../server/app/pet-shelter/treatments/topics.js';
import { MemoryRetention } from '../../server/engine/backends/memory-retention.js';
import { MemoryEventBus } from '../../server/engine/bus/memory-event-bus.js';
import { TopicRegistry, type BusMessage } from '../../server/engine/bus/topics.js';
import { MemoryWorkflowLogStorage } from '../../server/engine/streams/memory-storage.js';
import { WorkflowLog } from '../../server/engine/streams/workflow-log.js';
import { MemoryTraceStore } from '../../server/engine/traces/memory-trace-store.js';
import { MemoryWaitStore } from '../../server/engine/waits/memory-wait-store.js';
import { createWaitFor, MAX_WAIT_MS, StepSuspended } from '../../server/engine/waits/wait-for.js';
import { Waits } from '../../server/engine/waits/waits.js';
import { withWriteKeys } from '../../server/engine/workflows/write-keys.js';
import { silentLogger } from '../support/redis.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function setUp(signal = new AbortController().signal) {
  const bus = new MemoryEventBus({
    topics: new TopicRegistry([treatmentTopics]),
    maxAttempts: 1,
    retryBaseMs: 0,
  });
  /** The messages delivered again to the step (its next runs). */
  const resumed: BusMessage[] = [];
  bus.consume('VetClearance', 'treatment.started', async (message) => {
    resumed.push(message);
  });
  const retention = new MemoryRetention({ retentionMs: 60_000 });
  const storage = new MemoryWorkflowLogStorage({ historyLimit: 100, retentionMs: 60_000, retention });
  const traces = new MemoryTraceStore({ maxTraces: 10, maxEntries: 100, retentionMs: 60_000, retention });
  const waits = new Waits({
    store: new MemoryWaitStore(retention),
    bus,
    traces,
    logger: silentLogger(),
    checkIntervalMs: 60_000,
  });
  closers.push(
    () => waits.close(),
    () => storage.close(),
    () => traces.close(),
    () => retention.close(),
  );
  const log = new WorkflowLog(storage, { subscriberBufferLimit: 100 });
  const traceId = randomUUID().replaceAll('-', '');
  const message = {
    id: randomUUID(),
    topic: 'treatment.started',
    traceId,
    data: { pet: {} },
    publishedAt: new Date().toISOString(),
  };
  /** One run of the step: its writes keyed as the step runner keys them. */
  const run = () =>
    createWaitFor({
      waits,
      flow: 'treatment',
      step: 'VetClearance',
      message,
      streams: withWriteKeys(
        log.streams({ treatment: treatmentStream }),
        `VetClearance:${message.id}`,
        signal,
      ),
      signal,
    });
  return { waits, storage, traceId, waitFor: run(), run, message, resumed, bus };
}

const Answer = z.strictObject({ cleared: z.boolean(), note: z.string() });
const announce = {
  stream: 'treatment',
  itemId: 'vetClearance',
  data: { message: 'Waiting', stage: 'waiting' },
};
const options = (timeoutMs: number) => ({ timeoutMs, awaitedBy: 'vet', announce });

describe('ctx.waitFor', () => {
  test.each([1, MAX_WAIT_MS])(
    'timeoutMs %i: the wait opens, is announced, and the attempt ends waiting',
    async (timeoutMs) => {
      const { waits, storage, traceId, waitFor } = setUp();
      await expect(waitFor('vetClearance', Answer, options(timeoutMs))).rejects.toBeInstanceOf(StepSuspended);
      const [wait] = await waits.list(traceId);
      expect(Date.parse(wait?.deadline ?? '') - Date.parse(wait?.openedAt ?? '')).toBe(timeoutMs);
      expect((await storage.readAfter(traceId, null)).events.map((e) => e.data)).toEqual([announce.data]);
    },
  );

  test.each([0, MAX_WAIT_MS + 1, 1.5])(
    'timeoutMs %d is refused before anything is stored',
    async (timeoutMs) => {
      const { waits, storage, traceId, waitFor } = setUp();
      await expect(waitFor('vetClearance', Answer, options(timeoutMs))).rejects.toThrow(
        `Expected \`timeoutMs\` to be an integer from 1 to ${MAX_WAIT_MS}, got \`${timeoutMs}\``,
      );
      expect(await waits.list(traceId)).toEqual([]);
      expect((await storage.readAfter(traceId, null)).events).toEqual([]);
    },
  );

  test('a name that is not letters and digits, or a stream the step does not write, is refused', async () => {
    const { waitFor } = setUp();
    await expect(waitFor('vet clearance', Answer, options(1000))).rejects.toThrow(
      'Invalid wait name `vet clearance`',
    );
    await expect(
      waitFor('vetClearance', Answer, { ...options(1000), announce: { ...announce, stream: 'petCreation' } }),
    ).rejects.toThrow(
      'Step `VetClearance` announces wait `vetClearance` on stream `petCreation`, which it does not write',
    );
  });

  test('an aborted attempt opens no wait', async () => {
    const abort = new AbortController();
    abort.abort(new Error('cancelled'));
    const { waits, traceId, waitFor } = setUp(abort.signal);
    await expect(waitFor('vetClearance', Answer, options(1000))).rejects.toThrow('cancelled');
    expect(await waits.list(traceId)).toEqual([]);
  });

  test('once answered, the same wait returns the input parsed by its schema, and who gave it; the announcement is not written again', async () => {
    const { waits, storage, traceId, waitFor, run, message, resumed, bus } = setUp();
    await expect(waitFor('vetClearance', Answer, options(1000))).rejects.toBeInstanceOf(StepSuspended);
    await waits.answer(traceId, 'vetClearance', { cleared: true, note: 'Fine' }, 'vet');
    await bus.onIdle();
    expect(resumed).toEqual([message]);
    // The step's next run: the same name finds the same wait.
    const result = await run()('vetClearance', Answer, options(5000));
    expect(result).toEqual({
      status: 'received',
      input: { cleared: true, note: 'Fine' },
      by: 'vet',
      at: expect.any(String),
    });
    expect((await storage.readAfter(traceId, null)).events.map((e) => e.data)).toEqual([announce.data]);
    await expect(
      waitFor('vetClearance', z.strictObject({ cleared: z.string() }), options(1000)),
    ).rejects.toThrow();
  });
});
