import { TRPCError, type TRPCErrorShape } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';

export const tooManySubscriptions = (limit: number) =>
  new TRPCError({
    code: 'TOO_MANY_REQUESTS',
    message: `At most ${limit} subscriptions per connection; stop one or open another connection`,
  });

/**
 * What the client gets when its error cannot be formatted or encoded (tRPC's
 * adapter sends the same). It says nothing about the error, which is what an
 * error formatter would have hidden.
 */
export const FALLBACK_ERROR_SHAPE: TRPCErrorShape = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

/** How a cancelled call gives up (`signal` aborted): tRPC wraps it as an internal error. */
export function isAbortError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { readonly name?: unknown }).name === 'AbortError'
  );
}
