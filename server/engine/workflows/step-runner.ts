import { timeoutSignal } from '../timeout-signal.js';
import type { ConsumerHandler, EventBus } from '../bus/event-bus.js';
import { workflowLogger, type Logger } from '../log.js';
import type { StepObserver, WorkflowTracing } from '../observability/hooks.js';
import type { WorkflowLog } from '../streams/workflow-log.js';
import type { CancelSignals } from './cancellation.js';
import type { WorkflowRegistry } from './registry.js';
import { createEmit } from './runtime.js';
import type { WorkflowTracker } from './tracker.js';
import { withWriteKeys } from './write-keys.js';

export type StepRunnerOptions<TServices> = {
  readonly bus: EventBus;
  readonly registry: WorkflowRegistry<TServices>;
  readonly log: WorkflowLog;
  readonly tracker: WorkflowTracker<TServices>;
  /** Abort each attempt of a workflow that is cancelled. */
  readonly cancelSignals: CancelSignals;
  readonly services: TServices;
  /**
   * The services as one attempt sees them: an application whose services
   * write makes those writes fail once `signal` aborts (see StepContext).
   */
  readonly fenceServices?: ((services: TServices, signal: AbortSignal) => TServices) | undefined;
  readonly logger: Logger;
  /** One attempt longer than this is aborted and counts as failed. */
  readonly timeoutMs: number;
  /** Told of every attempt's start and end (traces, metrics). */
  readonly observer?: StepObserver;
  /** Runs each attempt in its span, when spans are exported. */
  readonly tracing?: WorkflowTracing | null;
};

export class StepTimeout extends Error {
  override readonly name = 'StepTimeout';
}

/** The attempt was stopped because the service shut down: not a failure of the step. */
export class StepInterrupted extends Error {
  override readonly name = 'StepInterrupted';
}

/** The attempt was stopped because its workflow was cancelled: not a failure, and not retried. */
export class StepCancelled extends Error {
  override readonly name = 'StepCancelled';
}

/**
 * How long a retry waits, at most, for an aborted attempt that keeps
 * running: as long again as the step timeout, capped (its writes fail meanwhile).
 */
const ABANDONED_ATTEMPT_MAX_WAIT_MS = 5000;

/**
 * Subscribes every step of every workflow to its topic and reports
 * outcomes to the tracker. The bus's shutdown stops the attempts: running
 * ones get its grace time, then end as interrupted (reported, never as failures).
 * A cancelled workflow's attempts are aborted (their signal's reason is
 * WorkflowCancelled) and end as interrupted too; the ones that would start
 * after the cancel do not run. Neither is retried nor counted as an outcome.
 */
export function startSteps<TServices>(options: StepRunnerOptions<TServices>): void {
  const { bus, registry, log, tracker, cancelSignals, services, logger: rootLogger, timeoutMs } = options;
  for (const { step } of registry.steps) {
    const { tracing } = options;
    const handler: ConsumerHandler = async (message, { attempt, signal: shutdown }) => {
      const logger = workflowLogger(rootLogger, message.traceId, step.name);
      // Held from before the check: a cancel made after it aborts the attempt.
      const cancel = cancelSignals.hold(message.traceId);
      try {
        if ((await tracker.get(message.traceId))?.cancelledAt) {
          logger.info(`⏹️ ${step.name} skipped: the workflow was cancelled`);
          return;
        }
        const ended = options.observer?.attemptStarted(message.traceId, step.name, attempt);
        const timeout = timeoutSignal(timeoutMs, 'The attempt timed out');
        const signal = AbortSignal.any([shutdown, timeout.signal, cancel.signal]);
        // Every write an attempt can make (stream, bus, fenced services)
        // fails once its signal aborts, so an attempt that outlives its
        // timeout cannot write behind its retry's back.
        const emit = createEmit(bus, message.traceId, step.emits, step.name);
        const run = step.handle(message.data, {
          traceId: message.traceId,
          logger,
          // Keys are per message, so a retried attempt's writes replace nothing and repeat nothing.
          streams: withWriteKeys(log.streams(step.streams), `${step.name}:${message.id}`, signal),
          emit: async (topic, data) => {
            signal.throwIfAborted();
            await emit(topic, data);
          },
          services: options.fenceServices ? options.fenceServices(services, signal) : services,
          attempt,
          signal,
        });
        const waitMs = Math.min(timeoutMs, ABANDONED_ATTEMPT_MAX_WAIT_MS);
        await abortable(run, signal, { logger, waitMs, shutdown, cancelled: cancel.signal })
          .then(
            () => ended?.(null),
            (error: unknown) => {
              ended?.(error, shutdown.aborted || error instanceof StepCancelled);
              throw error;
            },
          )
          .finally(() => timeout.clear());
      } catch (error) {
        if (!(error instanceof StepCancelled)) throw error;
        logger.info(`⏹️ ${step.name} stopped: the workflow was cancelled`);
        return;
      } finally {
        cancel.release();
      }
      await tracker.stepFinished(message.traceId, step.name, 'succeeded');
    };
    bus.consume(
      step.name,
      step.subscribes,
      // The span covers the attempt and its report: a failed report fails the attempt.
      tracing
        ? (message, info) =>
            tracing.attempt(
              message,
              { step: step.name, attempt: info.attempt, interrupted: () => info.signal.aborted },
              () => handler(message, info),
            )
        : handler,
      {
        onAttemptFailed: (message, { attempt, maxAttempts, error, retryInMs }) => {
          workflowLogger(rootLogger, message.traceId, step.name).error(
            { err: error, attempt, maxAttempts, retryInMs },
            retryInMs === null
              ? `❌ ${step.name} failed, no attempt left`
              : `❌ ${step.name} failed, retrying`,
          );
        },
        onDead: async (letter) => {
          const report = () => tracker.stepFinished(letter.message.traceId, step.name, 'dead');
          await (tracing ? tracing.givenUp(letter, report) : report());
        },
        onInterrupted: (message, { attempt }) => {
          workflowLogger(rootLogger, message.traceId, step.name).warn(
            { attempt },
            `⏸️ ${step.name} interrupted by shutdown`,
          );
        },
      },
    );
  }
}

/**
 * Settles with the run; once the signal aborts, throws StepTimeout as soon
 * as the run has stopped, so the retry never overlaps it. A run that
 * ignores its signal is waited for at most `waitMs` (its writes are fenced,
 * so it can do nothing visible after that). At shutdown there is no wait:
 * StepInterrupted at once (the run's writes are already refused). Aborted
 * by `cancelled`, it throws StepCancelled instead of StepTimeout.
 */
async function abortable<T>(
  run: Promise<T>,
  signal: AbortSignal,
  {
    logger,
    waitMs,
    shutdown,
    cancelled,
  }: {
    readonly logger: Logger;
    readonly waitMs: number;
    readonly shutdown: AbortSignal;
    readonly cancelled: AbortSignal;
  },
): Promise<T> {
  const settled = run.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<null>((resolve) => {
    onAbort = () => resolve(null);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  const first = await Promise.race([settled, aborted]);
  // The timeout signal lives as long as it has listeners: let it go.
  if (onAbort) signal.removeEventListener('abort', onAbort);
  if (first?.ok) return first.value;
  if (first && !signal.aborted) throw first.error;
  if (shutdown.aborted)
    throw new StepInterrupted('step attempt interrupted by shutdown', { cause: shutdown.reason });

  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'gave-up'>((resolve) => {
    timer = setTimeout(() => resolve('gave-up'), waitMs);
  });
  const outcome = await Promise.race([settled.then(() => 'stopped' as const), gaveUp]);
  clearTimeout(timer);
  if (outcome === 'gave-up') logger.warn('⚠️ An aborted attempt is still running; its writes are refused');
  if (cancelled.aborted)
    throw new StepCancelled('step attempt stopped: its workflow was cancelled', { cause: cancelled.reason });
  throw new StepTimeout('step attempt aborted or timed out', { cause: signal.reason });
}
