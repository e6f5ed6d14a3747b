import type { PetCreationEvent } from '../shared/pet-creation.js';
import { WorkflowWatch } from './workflow-watch.js';

/** The `petCreation` stream of one pet creation workflow (`petCreation.onUpdate`). */
export class PetCreationWatch extends WorkflowWatch<PetCreationEvent> {}
