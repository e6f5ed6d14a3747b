import { z } from 'zod';

import { PetSchema } from '../../../../shared/pet.js';
import { defineTopics } from '../../../engine/index.js';
import { AdoptionApplicationSchema } from './schemas.js';

/** What the adoption workflow is started with: both of its steps subscribe to it. */
export const adoptionTopics = defineTopics({
  'adoption.submitted': z.object({ application: AdoptionApplicationSchema, pet: PetSchema }),
});
