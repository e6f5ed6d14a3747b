/** The shelter's own errors, with stable codes. */
import { TRPCError } from '@trpc/server';

export const petNotFound = (id: string) =>
  new TRPCError({ code: 'NOT_FOUND', message: `No pet with id "${id}"` });
