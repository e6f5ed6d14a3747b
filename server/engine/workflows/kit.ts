import { defineStepFor } from './define-step.js';
import { defineWorkflowFor } from './define-workflow.js';

/**
 * The definition functions of an application, typed by its services (as
 * `initTRPC.context<Ctx>()` types procedures): every step handler and
 * workflow `finish` of the application gets `services` of that type.
 *
 * @example
 * export const { defineStep, defineWorkflow } = createWorkflowKit<ShelterServices>();
 */
export function createWorkflowKit<TServices>() {
  return { defineStep: defineStepFor<TServices>(), defineWorkflow: defineWorkflowFor<TServices>() };
}
