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
