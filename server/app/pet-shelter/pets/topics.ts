import { z } from 'zod';

import { PetIdSchema, PetSchema, PetStatusSchema } from '../../../../shared/pet.js';
import { defineTopics } from '../../../engine/index.js';

/** What the pet creation workflow's steps subscribe to and emit. */
export const petTopics = defineTopics({
  'pet.created': z.object({ pet: PetSchema }),
  'feeding.reminder.enqueued': z.object({ pet: PetSchema }),
  'feeding.reminder.completed': z.object({
    petId: PetIdSchema,
    status: PetStatusSchema,
    nextFeedingAt: z.string(),
  }),
});
