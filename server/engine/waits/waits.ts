import type { EventBus } from '../bus/event-bus.js';
import { workflowLogger, type Logger } from '../log.js';
import type { TraceStore } from '../traces/trace-store.js';
import {
  resumes,
  type OpenedWait,
  type WaitRecord,
  type WaitSettlement,
  type WaitStore,
} from './wait-store.js';

export type WaitsOptions = {
  readonly store: WaitStore;
  readonly bus: EventBus;
  readonly traces: TraceStore;
  readonly logger: Logger;
  /**
   * How often this instance looks for waits past their deadline that it
   * holds no timer for (opened by another instance, or before a restart).
   */
  readonly checkIntervalMs: number;
};

/** The longest delay a Node timer takes; later deadlines are reached in steps. */
const MAX_TIMER_MS = 2_147_483_647;
/** Waits timed out at once by one check. */
const DUE_BATCH = 100;

/** Why `answer` refused an input. */
export class NotWaiting extends Error {
  override readonly name = 'NotWaiting';
  constructor(
    readonly wait: string,
    /** Null when the workflow never opened that wait (or not yet). */
    readonly status: WaitRecord['status'] | null,
  ) {
    super(
      status === null
        ? `The workflow is not waiting for ${wait}`
        : status === 'received'
          ? `The workflow has already received ${wait}`
          : `The workflow no longer waits for ${wait}: it ${status === 'timedOut' ? 'timed out' : 'was cancelled'}`,
    );
  }
}

/**
 * The waits of the engine's workflows. A waiting step holds no attempt,
 * timer or promise: only its wait record. When the wait ends (its input
 * arrives, its deadline passes), the step's message is delivered to it
 * again and the step runs from its start; `waitFor` then returns what
 * ended the wait. Every wait and its end is recorded in the trace.
 */
export class Waits {
  readonly #options: WaitsOptions;
  #timer: NodeJS.Timeout | undefined;
  /** When the timer fires (ms), or null without one. */
  #timerAt: number | null = null;
  readonly #interval: NodeJS.Timeout;
  #checking: Promise<void> | null = null;
  #closed = false;

  constructor(options: WaitsOptions) {
    this.#options = options;
    this.#interval = setInterval(() => void this.#checkDue(), options.checkIntervalMs);
    this.#interval.unref();
    // Waits left by instances that stopped are timed out here too.
    void this.#scheduleNext();
  }

  /** Opens a wait (or finds it, when the step runs again); records it in the trace the first time. */
  async open(wait: OpenedWait): Promise<WaitRecord> {
    const { record, opened } = await this.#options.store.open(wait);
    if (opened) {
      this.#options.traces.record(wait.traceId, {
        kind: 'wait_started',
        step: wait.step,
        name: wait.name,
        awaitedBy: wait.awaitedBy,
        deadline: wait.deadline,
      });
      this.#logger(record).info(
        { wait: wait.name, awaitedBy: wait.awaitedBy, deadline: wait.deadline },
        `⧗ Waiting for ${wait.name} from ${wait.awaitedBy}`,
      );
      this.#schedule(Date.parse(wait.deadline));
    }
    return record;
  }

  /**
   * Gives a waiting workflow its input: the wait ends and its step runs
   * again. Throws NotWaiting when the workflow is not waiting for it (never
   * was, not yet, or no longer).
   */
  async answer(traceId: string, name: string, input: unknown, by: string): Promise<WaitRecord> {
    const settled = await this.#settle(traceId, name, { status: 'received', input, by });
    if (!settled) throw new NotWaiting(name, (await this.#options.store.get(traceId, name))?.status ?? null);
    return settled;
  }

  /** Ends every wait of the workflow still waiting, without running its step again. Returns the waits ended. */
  async cancel(traceId: string): Promise<WaitRecord[]> {
    const ended: WaitRecord[] = [];
    for (const wait of await this.#options.store.list(traceId)) {
      if (wait.status !== 'waiting') continue;
      const settled = await this.#settle(traceId, wait.name, { status: 'cancelled' });
      if (settled) ended.push(settled);
    }
    return ended;
  }

  /** The workflow's waits, in the order they opened. */
  list(traceId: string): Promise<WaitRecord[]> {
    return this.#options.store.list(traceId);
  }

  /** The workflow finished: its waits are kept for its retention only. */
  finished(traceId: string): Promise<void> {
    return this.#options.store.finished(traceId);
  }

  /** Stops the timers (at shutdown); the store is closed with the backends. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#interval);
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Ends a wait once (the store decides who wins), records it, and (for an
   * input or a deadline) runs its step again. The store keeps the step as
   * to be run again until it is queued: a queueing that fails here is
   * done by the next check, on whichever instance.
   */
  async #settle(traceId: string, name: string, settlement: WaitSettlement): Promise<WaitRecord | null> {
    const settled = await this.#options.store.settle(traceId, name, settlement, new Date().toISOString());
    if (!settled) return null;
    this.#options.traces.record(traceId, {
      kind: 'wait_ended',
      step: settled.step,
      name,
      status: settlement.status,
      by: settled.by,
      input: settled.input,
    });
    this.#logger(settled).info(
      { wait: name, status: settlement.status, by: settled.by },
      settlement.status === 'received'
        ? `↩ ${name} received from ${settled.by ?? 'unknown'}`
        : `↩ ${name} ${settlement.status === 'timedOut' ? 'timed out' : 'cancelled'}`,
    );
    if (resumes(settlement)) await this.#resume(settled);
    return settled;
  }

  /** Queues the wait's step to run again; on failure the next check queues it (the input is kept). */
  async #resume(wait: WaitRecord): Promise<void> {
    try {
      await this.#options.bus.resume(wait.step, wait.message, wait.name);
      await this.#options.store.resumed(wait.traceId, wait.name);
    } catch (error) {
      this.#logger(wait).warn(
        { err: error, wait: wait.name },
        `Cannot queue ${wait.step} to run again now; the next check will`,
      );
    }
  }

  /** Queues again the steps of ended waits that were not queued (their instance failed or stopped meanwhile). */
  async #resumeLeftOver(): Promise<void> {
    // Older than one check: a wait ended just now is being queued by whoever ended it.
    const left = await this.#options.store.unresumed(Date.now() - this.#options.checkIntervalMs, DUE_BATCH);
    for (const { traceId, name } of left) {
      const wait = await this.#options.store.get(traceId, name);
      if (wait && wait.status !== 'waiting' && wait.status !== 'cancelled') await this.#resume(wait);
      else await this.#options.store.resumed(traceId, name);
    }
  }

  /** Times out every wait past its deadline (one check at a time), then sets the timer for the next one. */
  #checkDue(): Promise<void> {
    this.#checking ??= (async () => {
      try {
        for (;;) {
          const due = await this.#options.store.due(Date.now(), DUE_BATCH);
          for (const { traceId, name } of due) await this.#settle(traceId, name, { status: 'timedOut' });
          if (due.length < DUE_BATCH || this.#closed) break;
        }
        await this.#resumeLeftOver();
        await this.#scheduleNext();
      } catch (error) {
        // Storage out of reach, say: the next check tries again.
        this.#options.logger.warn(
          { err: error },
          'Cannot time out the waits past their deadline; retrying later',
        );
      } finally {
        this.#checking = null;
      }
    })();
    return this.#checking;
  }

  async #scheduleNext(): Promise<void> {
    try {
      const next = await this.#options.store.nextDeadline();
      if (next !== null) this.#schedule(next);
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'Cannot read the next wait deadline; retrying later');
    }
  }

  /** Keeps one timer, for the earliest deadline known here. */
  #schedule(at: number): void {
    if (this.#closed || (this.#timerAt !== null && this.#timerAt <= at)) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = null;
        void this.#checkDue();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())),
    );
    this.#timer.unref();
  }

  #logger(wait: Pick<WaitRecord, 'traceId' | 'step'>): Logger {
    return workflowLogger(this.#options.logger, wait.traceId, wait.step);
  }
}
