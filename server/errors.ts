/** The error catalogue: every error a client can see, with a stable code. */
import { TRPCError } from '@trpc/server';

import type { TokenCheck } from './security/stream-tokens.js';

export const petNotFound = (id: string) =>
  new TRPCError({ code: 'NOT_FOUND', message: `No pet with id "${id}"` });

export const workflowNotFound = () =>
  new TRPCError({ code: 'NOT_FOUND', message: 'No such workflow (unknown trace id, or its retention has passed)' });

const TOKEN_ERRORS: Record<Exclude<TokenCheck, 'ok'>, () => TRPCError> = {
  missing: () => new TRPCError({ code: 'UNAUTHORIZED', message: 'A stream token is required' }),
  malformed: () => new TRPCError({ code: 'UNAUTHORIZED', message: 'The stream token is malformed' }),
  invalid: () => new TRPCError({ code: 'UNAUTHORIZED', message: 'The stream token is not valid' }),
  expired: () => new TRPCError({ code: 'UNAUTHORIZED', message: 'The stream token has expired' }),
  'other-workflow': () =>
    new TRPCError({ code: 'FORBIDDEN', message: 'The stream token belongs to another workflow' }),
};

export const streamTokenRejected = (check: Exclude<TokenCheck, 'ok'>) => TOKEN_ERRORS[check]();
