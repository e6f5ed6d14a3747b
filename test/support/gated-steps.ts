import { createDeferred } from '../../shared/deferred.js';
import { petCreationWorkflow } from '../../server/app/pet-shelter/pets/workflow.js';
import type { ApplicationServices, StepDefinition } from '../../server/engine/index.js';

type Step = StepDefinition<ApplicationServices>;

/**
 * The pet creation workflow's real steps, except that the named one starts
 * only when `gate` resolves: a test can then act mid-workflow without racing it.
 */
export function gatedSteps(name: string, gate: Promise<void>): readonly Step[] {
  return petCreationWorkflow.steps.map((step) =>
    step.name === name
      ? {
          ...step,
          handle: async (...args: Parameters<Step['handle']>) => {
            await gate;
            return step.handle(...args);
          },
        }
      : step,
  );
}

/**
 * The pet creation workflow's real steps, except that the named one waits
 * for its attempt's abort signal instead of working: the workflow keeps
 * running until it is cancelled (or the attempt times out). `aborted`
 * resolves with the signal's reason; `started`, once the attempt waits.
 */
export function stepsWaitingForAbort(name: string, of: readonly Step[] = petCreationWorkflow.steps) {
  const started = createDeferred<void>();
  const aborted = createDeferred<unknown>();
  const steps = of.map((step) =>
    step.name === name
      ? {
          ...step,
          handle: (_data: unknown, ctx: Parameters<Step['handle']>[1]) =>
            new Promise<void>((_resolve, reject) => {
              ctx.signal.addEventListener(
                'abort',
                () => {
                  aborted.resolve(ctx.signal.reason);
                  reject(ctx.signal.reason as Error);
                },
                { once: true },
              );
              started.resolve();
            }),
        }
      : step,
  );
  return { steps, started: started.promise, aborted: aborted.promise };
}
