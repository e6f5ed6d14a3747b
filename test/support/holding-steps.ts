/** Step sets for tests where a workflow must finish on another instance. */
import { petCreationWorkflow } from '../../server/app/pet-shelter/pets/workflow.js';
import type { ApplicationServices, StepDefinition } from '../../server/engine/index.js';

type Step = StepDefinition<ApplicationServices>;

/**
 * Pet creation's steps as one instance runs them: the enrichment step holds
 * until its attempt is stopped, so that it can only finish on another instance.
 */
export const holdingEnrichment: readonly Step[] = petCreationWorkflow.steps.map((step) =>
  step.name === 'AiProfileEnrichment'
    ? {
        ...step,
        handle: (_data: unknown, { signal }: Parameters<Step['handle']>[1]) =>
          new Promise<void>((_resolve, reject) => {
            signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true });
          }),
      }
    : step,
);
