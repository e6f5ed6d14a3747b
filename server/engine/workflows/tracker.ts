import type { Logger } from '../log.js';
import type { WorkflowObserver } from '../observability/hooks.js';
import { StreamGroupLost } from '../streams/group-lost.js';
import type { WorkflowLog } from '../streams/workflow-log.js';
import type { Waits } from '../waits/waits.js';
import { createDeferred } from '../../../shared/deferred.js';
import type { AnyWorkflow, WorkflowEnd } from './define-workflow.js';
import type { CancelSignals } from './cancellation.js';
import type { WorkflowRegistry } from './registry.js';
import type { StepOutcome, WorkflowState, WorkflowStore } from './store.js';

export type WorkflowTrackerOptions<TServices> = {
  readonly store: WorkflowStore;
  readonly log: WorkflowLog;
  readonly workflows: WorkflowRegistry<TServices>;
  /** Aborted for each cancel made here. */
  readonly cancelSignals: CancelSignals;
  /** The services `finish` gets. */
  readonly services: TServices;
  readonly logger: Logger;
  /** A workflow this process started that still runs this long after is stopped (see `#stopStuck`). @default Infinity */
  readonly maxRuntimeMs?: number;
  /** How often this process checks the workflows it started. @default 10000 */
  readonly checkIntervalMs?: number;
  /** Told of workflows lost by storage. */
  readonly observer?: WorkflowObserver;
  /** The workflows' waits: a waiting workflow is not stuck, and a finished one's waits expire with it. */
  readonly waits?: Waits;
};

/**
 * Told when a workflow is cancelled, on the instance that cancels it, after
 * its state is marked cancelled and before its `cancelled` event is
 * written: what the workflow still waits for elsewhere (a stored wait, say)
 * is ended here. A hook that fails is logged; the cancel goes on.
 */
export type CancelHook = (state: WorkflowState) => Promise<void> | void;

/** How a cancel went: unknown workflow, one that had already ended, or cancelled now. */
export type CancelResult =
  | { readonly status: 'unknown' }
  | { readonly status: 'ended'; readonly state: WorkflowState }
  | { readonly status: 'cancelled'; readonly state: WorkflowState; readonly eventId: string };

/** A workflow this process started and has not seen finish. */
type Running = { readonly kind: string; readonly subject: string; readonly startedAt: number };

/** Running workflows read from storage at once by a check. */
const CHECK_BATCH = 100;

/**
 * Knows which steps each workflow is waiting for. When the last one has
 * finished (succeeded or dead), it writes the workflow's final event, as
 * the workflow's `finish` returns it.
 *
 * It also ends the workflows it started that can no longer finish by
 * themselves, checking them every `checkIntervalMs`: one whose state is
 * gone from storage (Redis restarted without its data) is lost; one still
 * running `maxRuntimeMs` after it started (a step whose work was lost, say)
 * is stopped, its unfinished steps counted as failed.
 */
export class WorkflowTracker<TServices> {
  readonly #options: WorkflowTrackerOptions<TServices>;
  readonly #running = new Map<string, Running>();
  readonly #cancelHooks = new Set<CancelHook>();
  readonly #maxRuntimeMs: number;
  readonly #checkIntervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  #stopped = false;

  constructor(options: WorkflowTrackerOptions<TServices>) {
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
  async start(workflow: AnyWorkflow<TServices>, traceId: string, subject: string): Promise<void> {
    const steps = this.#options.workflows.get(workflow.kind).steps.map((step) => step.name);
    await this.#options.store.start({
      traceId,
      flow: workflow.kind,
      subject,
      steps,
      startedAt: new Date().toISOString(),
    });
    if (this.#stopped) return;
    this.#running.set(traceId, { kind: workflow.kind, subject, startedAt: Date.now() });
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

  /** Adds a hook run on every cancel (see CancelHook). Returns the function that removes it. */
  onCancel(hook: CancelHook): () => void {
    this.#cancelHooks.add(hook);
    return () => this.#cancelHooks.delete(hook);
  }

  /**
   * Cancels a running workflow: its state is marked cancelled atomically
   * with step completion (so no step finishes it afterwards), the cancel
   * hooks run, and its final event is written with kind `cancelled`.
   * Running steps, on any instance, see that event and get their abort
   * signal (CancelSignals); every subscription ends after it.
   */
  async cancel(traceId: string): Promise<CancelResult> {
    const result = await this.#options.store.cancel(traceId);
    if (!result) return { status: 'unknown' };
    const { state } = result;
    if (!result.cancelled) return { status: 'ended', state };
    this.#running.delete(traceId);
    this.#options.cancelSignals.cancelled(traceId);
    const logger = this.#options.logger.child({ traceId, step: state.flow });
    logger.info('⏹️ Workflow cancelled');
    // Its waits end before its final event: no input or deadline resumes a step of it.
    try {
      await this.#options.waits?.cancel(traceId);
    } catch (error) {
      logger.error({ err: error }, '❌ Cannot end the waits; the workflow is cancelled anyway');
    }
    for (const hook of this.#cancelHooks) {
      try {
        await hook(state);
      } catch (error) {
        logger.error({ err: error }, '❌ A cancel hook failed; the workflow is cancelled anyway');
      }
    }
    const workflow = this.#options.workflows.get(state.flow);
    const event = await this.#finish(workflow, state, { reason: 'cancelled' });
    return { status: 'cancelled', state, eventId: event.eventId };
  }

  async stepFinished(traceId: string, stepName: string, outcome: StepOutcome): Promise<void> {
    const current = await this.#options.store.get(traceId);
    // Unknown, or cancelled (its stream has ended: what its steps did after that is not told).
    if (current?.cancelledAt !== null) return;
    const workflow = this.#options.workflows.get(current.flow);
    if (outcome === 'dead') {
      const step = workflow.steps.find((s) => s.name === stepName);
      const write = workflow.stepFailed({
        traceId,
        subject: current.subject,
        step: { name: stepName, title: step?.title ?? stepName },
      });
      if (write) await this.#stream(workflow, write.stream).set(traceId, write.itemId, write.data);
    }
    const result = await this.#options.store.complete(traceId, stepName, outcome);
    if (!result?.firstToFinish) return;
    this.#running.delete(traceId);
    const failedSteps = Object.values(result.state.outcomes).filter((o) => o === 'dead').length;
    // Logged first: whoever waits for the final event finds the line there.
    this.#options.logger.info({ traceId, outcomes: result.state.outcomes }, '🏁 Workflow finished');
    await this.#finish(workflow, result.state, {
      reason: 'completed',
      failedSteps,
      outcomes: result.state.outcomes,
    });
  }

  /**
   * Resolves with the workflow's state once its final event is written,
   * whichever instance wrote it: it watches the workflow's log, not this
   * process. Rejects when the log is lost meanwhile.
   */
  async onFinished(traceId: string): Promise<WorkflowState> {
    const state = await this.get(traceId);
    if (state?.finishedAt) return state;
    const finished = createDeferred<void>();
    const stop = this.#options.log.push(
      traceId,
      // No stream: the finished event passes every filter, and nothing else is wanted.
      { after: null, streams: [], observed: false },
      { event: () => undefined, end: (error) => (error ? finished.reject(error) : finished.resolve()) },
    );
    try {
      await finished.promise;
    } finally {
      stop();
    }
    const after = await this.get(traceId);
    if (!after) throw new StreamGroupLost(traceId);
    return after;
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
      this.#options.logger.warn({ err: failure }, 'Cannot check the running workflows; retrying later');
  }

  async #checkOne(traceId: string, run: Running): Promise<void> {
    const state = await this.#options.store.get(traceId);
    if (this.#running.get(traceId) !== run) return;
    if (!state) await this.#lose(traceId, run);
    else if (state.finishedAt !== null) this.#running.delete(traceId);
    else if (
      Date.now() - run.startedAt >= this.#maxRuntimeMs &&
      Date.now() - (await this.#busySince(traceId, run.startedAt)) >= this.#maxRuntimeMs
    )
      await this.#stopStuck(state);
  }

  /**
   * Since when the workflow has been running on its own: its run time does
   * not count the time it waited for an input, and a wait has its own
   * deadline (Infinity while it waits).
   */
  async #busySince(traceId: string, startedAt: number): Promise<number> {
    const waits = (await this.#options.waits?.list(traceId)) ?? [];
    if (waits.some((wait) => wait.status === 'waiting')) return Number.POSITIVE_INFINITY;
    const ended = waits.map((wait) => Date.parse(wait.settledAt ?? '')).filter(Number.isFinite);
    return Math.max(startedAt, ...ended);
  }

  /**
   * The workflow's state is gone from storage. Its watchers are told by the
   * log (it is gone too); the log gets a final event, so that whatever its
   * steps still write expires with it.
   */
  async #lose(traceId: string, run: Running): Promise<void> {
    this.#running.delete(traceId);
    this.#options.logger.error(
      { traceId, flow: run.kind },
      '❌ Workflow lost: storage no longer has its state',
    );
    this.#options.observer?.lost(traceId, run.kind);
    const workflow = this.#options.workflows.get(run.kind);
    await this.#finish(workflow, { traceId, subject: run.subject }, { reason: 'lost' });
  }

  /** Finishes a workflow that ran past `maxRuntimeMs`: the steps it still waits for count as failed. */
  async #stopStuck(state: WorkflowState): Promise<void> {
    const { traceId } = state;
    let result = null;
    const waiting = state.steps.filter((name) => !(name in state.outcomes));
    for (const name of waiting) result = await this.#options.store.complete(traceId, name, 'dead');
    if (!result?.firstToFinish) return;
    this.#running.delete(traceId);
    const workflow = this.#options.workflows.get(state.flow);
    const unfinished = waiting.map((name) => workflow.steps.find((s) => s.name === name)?.title ?? name);
    this.#options.logger.error({ traceId, waiting }, '❌ Workflow stopped: it ran past its longest run time');
    await this.#finish(workflow, state, { reason: 'stopped', unfinished, afterMs: this.#maxRuntimeMs });
  }

  /**
   * Asks the workflow for its final event and writes it (once: the write is
   * idempotent), with kind `cancelled` for a cancelled workflow.
   */
  async #finish(
    workflow: AnyWorkflow<TServices>,
    state: Pick<WorkflowState, 'traceId' | 'subject'>,
    end: WorkflowEnd,
  ) {
    const { traceId, subject } = state;
    await this.#options.waits?.finished(traceId);
    const final = await workflow.finish({
      traceId,
      subject,
      end,
      services: this.#options.services,
      streams: this.#options.log.streams(workflow.streams),
      logger: this.#options.logger.child({ traceId, step: workflow.kind }),
    });
    const kind = end.reason === 'cancelled' ? 'cancelled' : 'finished';
    return this.#stream(workflow, final.stream).finish(traceId, final.data, kind);
  }

  #stream(workflow: AnyWorkflow<TServices>, name: string) {
    const definition = workflow.streams[name];
    if (!definition) throw new TypeError(`Workflow \`${workflow.kind}\` has no stream \`${name}\``);
    return this.#options.log.stream(definition);
  }
}
