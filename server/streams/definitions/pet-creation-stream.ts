import { PetCreationDataSchema } from '../../../shared/pet-creation.js';
import { defineStream } from '../define-stream.js';

/** Live progress of one pet-creation workflow; the group id is the trace id. */
export const petCreationStream = defineStream({
  name: 'petCreation',
  schema: PetCreationDataSchema,
});
