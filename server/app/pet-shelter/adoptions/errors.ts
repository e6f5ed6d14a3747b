/** The adoption procedures' own errors, with stable codes. */
import { TRPCError } from '@trpc/server';

import type { Pet } from '../../../../shared/pet.js';

export const applicationNotFound = (id: string) =>
  new TRPCError({ code: 'NOT_FOUND', message: `No adoption application with id "${id}"` });

export const noApplicationForTrace = (traceId: string) =>
  new TRPCError({ code: 'NOT_FOUND', message: `No adoption application with trace id "${traceId}"` });

/** Only a healthy pet can be adopted: one in quarantine, ill or already adopted cannot. */
export const petNotAdoptable = (pet: Pet) =>
  new TRPCError({
    code: 'CONFLICT',
    message: `Pet ${pet.name} (ID: ${pet.id}) cannot be adopted: its status is "${pet.status}", not "healthy"`,
  });
