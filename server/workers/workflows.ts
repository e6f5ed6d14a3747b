import { EventEmitter } from 'eventemitter3';

import { createDeferred } from '../../shared/deferred.js';
import { PetCreationItem } from '../../shared/pet-creation.js';
import type { Logger } from '../log.js';
import type { WorkflowObserver } from '../observability/hooks.js';
import type { Streams } from '../streams/registry.js';
import type { StepOutcome, WorkflowState, WorkflowStore } from '../store/workflow-store.js';
import type { Step } from './define-step.js';

export type WorkflowsOptions = {
  readonly store: WorkflowStore;
  readonly streams: Streams;
  readonly steps: readonly Step[];
  readonly log: Logger;
  /** A workflow this process started that still runs this long after is stopped (see `#stopStuck`). @default Infinity */
  readonly maxRuntimeMs?: number;
  /** How often this process checks the workflows it started. @default 10000 */
  readonly checkIntervalMs?: number;
  /** Told of workflows lost by storage. */
  readonly observer?: WorkflowObserver;
};

/** A workflow this process started and has not seen finish. */
type Running = { readonly flow: string; readonly subject: string; readonly startedAt: number };

/** Running workflows read from storage at once by a check. */
const CHECK_BATCH = 100;

/**
 * Knows which steps each workflow is waiting for. When the last one has
 * finished (succeeded or dead), it writes the stream's final event.
 *
 * It also ends the workflows it started that can no longer finish by
 * themselves, checking them every `checkIntervalMs`: one whose state is
 * gone from storage (Redis restarted without its data) is lost; one still
 * running `maxRuntimeMs` after it started (a step whose work was lost, say)
 * is stopped, its unfinished steps counted as failed.
 */
export class Workflows {
  readonly #options: WorkflowsOptions;
  readonly #finished = new EventEmitter<Record<string, [WorkflowState]>>();
  readonly #running = new Map<string, Running>();
  readonly #maxRuntimeMs: number;
  readonly #checkIntervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  #stopped = false;

  constructor(options: WorkflowsOptions) {
    this.#maxRuntimeMs = options.maxRuntimeMs ?? Number.POSITIVE_INFINITY;
    this.#checkIntervalMs = options.checkIntervalMs ?? 10_000;
    for (const [name, value] of [
      ['maxRuntimeMs', this.#maxRuntimeMs],
      ['checkIntervalMs', this.#checkIntervalMs],
    ] as const) {
      if (!(value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= 1))) {
        throw new TypeError(`Expected \`${name}\` to be an integer >= 1, got \`${value}\``);
      }
    }
    this.#options = options;
  }

  /** Registers a workflow before its first event is published. */
  async start(traceId: string, flow: string, subject: string): Promise<void> {
    const steps = this.#options.steps.filter((step) => step.flows.includes(flow)).map((step) => step.name);
    await this.#options.store.start({ traceId, flow, subject, steps, startedAt: new Date().toISOString() });
    if (this.#stopped) return;
    this.#running.set(traceId, { flow, subject, startedAt: Date.now() });
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#check(), this.#checkIntervalMs);
      this.#timer.unref();
    }
  }

  /** Running workflows this process started and watches. */
  get watchedCount(): number {
    return this.#running.size;
  }

  /** Stops checking (at shutdown). */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#running.clear();
  }

  get(traceId: string): Promise<WorkflowState | null> {
    return this.#options.store.get(traceId);
  }

  async stepFinished(traceId: string, stepName: string, outcome: StepOutcome): Promise<void> {
    const step = this.#options.steps.find((s) => s.name === stepName);
    const stream = this.#options.streams.petCreation;
    const current = await this.#options.store.get(traceId);
    if (!current) return;
    if (outcome === 'dead') {
      await stream.set(traceId, PetCreationItem.stepFailed(stepName), {
        message: `❌ ${step?.title ?? stepName} failed for ${current.subject}; the workflow goes on without it`,
        stage: 'finished',
        error: true,
      });
    }
    const result = await this.#options.store.complete(traceId, stepName, outcome);
    if (!result?.firstToFinish) return;
    this.#running.delete(traceId);
    const failed = Object.values(result.state.outcomes).filter((o) => o === 'dead').length;
    await stream.finish(traceId, {
      message:
        failed === 0
          ? `Pet creation workflow finished for ${current.subject}`
          : `Pet creation workflow finished for ${current.subject} with ${failed} failed step${failed === 1 ? '' : 's'}`,
      stage: 'finished',
      progress: 100,
      ...(failed > 0 ? { error: true } : {}),
    });
    this.#options.log.info({ traceId, outcomes: result.state.outcomes }, '🏁 Workflow finished');
    this.#finished.emit(traceId, result.state);
  }

  /** Checks every running workflow this process started; one check at a time. */
  async #check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    let failure: unknown = null;
    try {
      const running = [...this.#running];
      for (let start = 0; start < running.length && !this.#stopped; start += CHECK_BATCH) {
        const batch = running.slice(start, start + CHECK_BATCH);
        const results = await Promise.allSettled(batch.map(([traceId, run]) => this.#checkOne(traceId, run)));
        for (const result of results) if (result.status === 'rejected') failure ??= result.reason;
      }
    } finally {
      this.#checking = false;
    }
    // Storage out of reach, say: the next check tries again. Logged once per check, not per workflow.
    if (failure !== null)
      this.#options.log.warn({ err: failure }, 'Cannot check the running workflows; retrying later');
  }

  async #checkOne(traceId: string, run: Running): Promise<void> {
    const state = await this.#options.store.get(traceId);
    if (this.#running.get(traceId) !== run) return;
    if (!state) await this.#lose(traceId, run);
    else if (state.finishedAt !== null) this.#running.delete(traceId);
    else if (Date.now() - run.startedAt >= this.#maxRuntimeMs) await this.#stopStuck(state);
  }

  /**
   * The workflow's state is gone from storage. Its watchers are told by the
   * stream (its group is gone too); its stream gets a final event, so that
   * whatever its steps still write expires with the group.
   */
  async #lose(traceId: string, run: Running): Promise<void> {
    this.#running.delete(traceId);
    this.#options.log.error({ traceId, flow: run.flow }, '❌ Workflow lost: storage no longer has its state');
    this.#options.observer?.lost(traceId, run.flow);
    await this.#options.streams.petCreation.finish(traceId, {
      message: `Pet creation workflow for ${run.subject} was lost: storage no longer has it`,
      stage: 'finished',
      error: true,
    });
  }

  /** Finishes a workflow that ran past `maxRuntimeMs`: the steps it still waits for count as failed. */
  async #stopStuck(state: WorkflowState): Promise<void> {
    const { traceId } = state;
    let result = null;
    const waiting = state.steps.filter((name) => !(name in state.outcomes));
    for (const name of waiting) result = await this.#options.store.complete(traceId, name, 'dead');
    if (!result?.firstToFinish) return;
    this.#running.delete(traceId);
    const titles = waiting.map((name) => this.#options.steps.find((s) => s.name === name)?.title ?? name);
    await this.#options.streams.petCreation.finish(traceId, {
      message: `Pet creation workflow for ${state.subject} stopped after ${duration(this.#maxRuntimeMs)}: ${titles.join(', ')} did not finish`,
      stage: 'finished',
      progress: 100,
      error: true,
    });
    this.#options.log.error({ traceId, waiting }, '❌ Workflow stopped: it ran past its longest run time');
    this.#finished.emit(traceId, result.state);
  }

  /** Resolves when this process sees the workflow finish. */
  onFinished(traceId: string): Promise<WorkflowState> {
    const deferred = createDeferred<WorkflowState>();
    this.#finished.once(traceId, deferred.resolve);
    void this.get(traceId).then((state) => {
      if (state?.finishedAt) {
        this.#finished.off(traceId, deferred.resolve);
        deferred.resolve(state);
      }
    });
    return deferred.promise;
  }
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}
