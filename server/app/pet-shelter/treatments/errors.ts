/** The treatment procedures' own errors, with stable codes. */
import { TRPCError } from '@trpc/server';

import type { Pet } from '../../../../shared/pet.js';

/** Only an ill pet is treated. */
export const petNotIll = (pet: Pet) =>
  new TRPCError({
    code: 'CONFLICT',
    message: `Pet ${pet.name} (ID: ${pet.id}) cannot be treated: its status is "${pet.status}", not "ill"`,
  });

export const alreadyInTreatment = (pet: Pet) =>
  new TRPCError({
    code: 'CONFLICT',
    message: `Pet ${pet.name} (ID: ${pet.id}) is already in treatment`,
  });

export const notInTreatment = (pet: Pet) =>
  new TRPCError({
    code: 'CONFLICT',
    message: `Pet ${pet.name} (ID: ${pet.id}) is not in treatment: start one with pets.treat`,
  });
