/**
 * The streams of each workflow kind of the shelter, for typed clients:
 * `watch(kind, …)` types its events from these (a type-only import).
 */
import type { adoptionWorkflow } from './adoptions/workflow.js';
import type { petCreationWorkflow } from './pets/workflow.js';
import type { treatmentWorkflow } from './treatments/workflow.js';

export type ShelterWorkflowStreams = {
  readonly petCreation: (typeof petCreationWorkflow)['streams'];
  readonly adoption: (typeof adoptionWorkflow)['streams'];
  readonly treatment: (typeof treatmentWorkflow)['streams'];
};
