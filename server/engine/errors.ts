/** The engine's error catalogue: every error a client can see from it, with a stable code. */
import { TRPCError } from '@trpc/server';

import type { TokenCheck } from './security/stream-tokens.js';

export const workflowNotFound = () =>
  new TRPCError({
    code: 'NOT_FOUND',
    message: 'No such workflow (unknown trace id, or its retention has passed)',
  });

/** The workflow's stream disappeared while it was watched (evicted, or lost by its storage). */
export const workflowStreamLost = () =>
  new TRPCError({
    code: 'NOT_FOUND',
    message: 'The workflow is no longer stored (evicted, or lost by its storage); its stream has ended',
  });

const TOKEN_ERRORS: Record<Exclude<TokenCheck, 'ok'>, () => TRPCError> = {
  missing: () => new TRPCError({ code: 'UNAUTHORIZED', message: 'A stream token is required' }),
  malformed: () => new TRPCError({ code: 'UNAUTHORIZED', message: 'The stream token is malformed' }),
  invalid: () => new TRPCError({ code: 'UNAUTHORIZED', message: 'The stream token is not valid' }),
  expired: () => new TRPCError({ code: 'UNAUTHORIZED', message: 'The stream token has expired' }),
  'other-workflow': () =>
    new TRPCError({ code: 'FORBIDDEN', message: 'The stream token belongs to another workflow' }),
  'wrong-kind': () =>
    new TRPCError({ code: 'FORBIDDEN', message: 'The stream token is for another kind of workflow' }),
};

export const streamTokenRejected = (check: Exclude<TokenCheck, 'ok'>) => TOKEN_ERRORS[check]();

/** The cause of a TOO_MANY_REQUESTS error: when the client may try again. */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
  constructor(readonly retryAfterMs: number) {
    super(`retry after ${retryAfterMs} ms`);
  }
}

/** `what` names the workflows the client starts, as a plural with its verb: "pets created". */
export const tooManyStarts = (retryAfterMs: number, what: string) =>
  new TRPCError({
    code: 'TOO_MANY_REQUESTS',
    message: `Too many ${what} from this client; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
    cause: new RetryLater(retryAfterMs),
  });

export const tooManySubscriptions = (limit: number) =>
  new TRPCError({
    code: 'TOO_MANY_REQUESTS',
    message: `At most ${limit} subscriptions per connection; stop one or open another connection`,
  });

/** Streams asked for that the workflow does not have. */
export const unknownStreams = (kind: string, streams: readonly string[]) =>
  new TRPCError({
    code: 'BAD_REQUEST',
    message: `Invalid input: streams: a ${kind} workflow has no stream ${streams.map((s) => `"${s}"`).join(', ')}`,
  });

export const apiKeyRejected = (check: 'missing' | 'invalid') =>
  new TRPCError({
    code: 'UNAUTHORIZED',
    message: check === 'missing' ? 'An API key is required' : 'The API key is not valid',
  });

/** Operator views without API keys: served on loopback only, since they name every workflow. */
export const operatorViewForbidden = () =>
  new TRPCError({
    code: 'FORBIDDEN',
    message:
      'Traces, stats and metrics are served to loopback callers only while API_KEYS is unset; set API_KEYS and present a key to read them from elsewhere',
  });

/** A call whose answer would take the request past `MAX_RESPONSE_BYTES`. */
export const responseTooLarge = (maxBytes: number) =>
  new TRPCError({
    code: 'PAYLOAD_TOO_LARGE',
    message: `The answer would exceed ${maxBytes} bytes for one request; ask for smaller pages or fewer calls per batch`,
  });

/** A cancel of a workflow that has already ended, as it ended. */
export const workflowAlreadyEnded = (how: 'finished' | 'cancelled') =>
  new TRPCError({
    code: 'CONFLICT',
    message:
      how === 'cancelled'
        ? 'The workflow has already been cancelled'
        : 'The workflow has already finished; only a running workflow can be cancelled',
  });

export const traceNotFound = () =>
  new TRPCError({
    code: 'NOT_FOUND',
    message: 'No such trace (unknown trace id, or its retention has passed)',
  });

/** Redis (or another backend) cannot be reached right now; the call may be retried shortly. */
export const storageUnavailable = (cause: Error) =>
  new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: cause.message, cause });
