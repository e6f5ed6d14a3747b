import { shelter } from '../../server/app/pet-shelter/application.js';
import { petCreationWorkflow } from '../../server/app/pet-shelter/pets/workflow.js';
import type { Application, ApplicationServices, StepDefinition } from '../../server/engine/index.js';

export type TestOverrides = {
  /** Replaces the pet creation workflow's steps (tests add failing or gated ones). */
  readonly steps?: readonly StepDefinition<ApplicationServices>[];
};

/** The shelter, with the overrides a test asks for. */
export function testApplication(overrides: TestOverrides = {}): Application {
  if (!overrides.steps) return shelter;
  const steps = overrides.steps;
  return {
    ...shelter,
    workflows: shelter.workflows.map((workflow) =>
      workflow.kind === petCreationWorkflow.kind ? { ...workflow, steps } : workflow,
    ),
  };
}
