import type { Step } from '../../server/workers/define-step.js';
import { steps } from '../../server/workers/steps/index.js';

/**
 * The service's real steps, except that the named one starts only when
 * `gate` resolves: a test can then act mid-workflow without racing it.
 */
export function gatedSteps(name: string, gate: Promise<void>): readonly Step[] {
  return steps.map((step) =>
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
