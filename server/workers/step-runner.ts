import type { EventBus } from '../bus/event-bus.js';
import type { Topic } from '../bus/topics.js';
import { workflowLogger, type Logger } from '../log.js';
import { withWriteKeys, type Streams } from '../streams/registry.js';
import type { Emit, Step, StepServices } from './define-step.js';
import type { Workflows } from './workflows.js';

export type StepRunnerOptions = {
  readonly bus: EventBus;
  readonly steps: readonly Step[];
  readonly streams: Streams;
  readonly workflows: Workflows;
  readonly services: StepServices;
  readonly log: Logger;
  /** One attempt longer than this is aborted and counts as failed. */
  readonly timeoutMs: number;
};

export class StepTimeout extends Error {
  override readonly name = 'StepTimeout';
}

/** Creates the `emit` of a step or procedure: trace id attached, only declared topics. */
export function createEmit(bus: EventBus, traceId: string, allowed: readonly Topic[], owner: string): Emit<Topic> {
  return async (topic, data) => {
    if (!allowed.includes(topic)) throw new Error(`${owner} does not declare that it emits ${topic}`);
    await bus.publish(topic, data, { traceId });
  };
}

/** Subscribes every declared step to its topic and reports outcomes to the workflows. */
export function startSteps(options: StepRunnerOptions): { readonly stop: () => void } {
  const { bus, steps, streams, workflows, services, log, timeoutMs } = options;
  const shutdown = new AbortController();
  for (const step of steps) {
    bus.consume(
      step.name,
      step.subscribes,
      async (message, { attempt }) => {
        const logger = workflowLogger(log, message.traceId, step.name);
        const signal = AbortSignal.any([shutdown.signal, AbortSignal.timeout(timeoutMs)]);
        const run = step.handle(message.data, {
          ...services,
          traceId: message.traceId,
          logger,
          // Keys are per message, so a retried attempt's writes replace nothing and repeat nothing.
          streams: withWriteKeys(streams, `${step.name}:${message.id}`, signal),
          emit: createEmit(bus, message.traceId, step.emits, step.name),
          attempt,
          signal,
        });
        await abortable(run, signal);
        await workflows.stepFinished(message.traceId, step.name, 'succeeded');
      },
      {
        onAttemptFailed: (message, { attempt, maxAttempts, error, retryInMs }) => {
          workflowLogger(log, message.traceId, step.name).error(
            { err: error, attempt, maxAttempts, retryInMs },
            retryInMs === null ? `❌ ${step.name} failed, no attempt left` : `❌ ${step.name} failed, retrying`,
          );
        },
        onDead: async (letter) => {
          await workflows.stepFinished(letter.message.traceId, step.name, 'dead');
        },
      },
    );
  }
  return { stop: () => shutdown.abort() };
}

/** Settles with the run, or rejects as soon as the signal aborts (a hung step cannot hold its slot). */
function abortable<T>(run: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new StepTimeout('step attempt aborted or timed out', { cause: signal.reason }));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    run.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
