import { z } from 'zod';

import { PetSchema } from '../../../../shared/pet.js';
import { defineTopics } from '../../../engine/index.js';

/** What the treatment workflow is started with. */
export const treatmentTopics = defineTopics({
  'treatment.started': z.object({ pet: PetSchema }),
});
