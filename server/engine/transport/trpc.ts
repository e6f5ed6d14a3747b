/**
 * The only tRPC instance. It fixes the transformer (superjson, shared with the
 * client) and the error shape: field errors for bad input, nothing internal
 * for anything else.
 */
import { initTRPC, type TRPCDefaultErrorShape, type TRPCError } from '@trpc/server';
import { z } from 'zod';

import { serverTransformer } from '../../../shared/transformer.js';
import type { Context } from './context.js';
import {
  apiKeyRejected,
  responseTooLarge,
  RetryLater,
  storageUnavailable,
  tooManyStarts,
  tooManySubscriptions,
} from '../errors.js';
import { StorageUnavailable } from '../backends/redis/storage-unavailable.js';
import { dataViewFor, operatorAccessError } from '../security/access.js';
import { clientKey } from '../security/caller.js';
import { releaseWhenDone } from '../security/subscription-slots.js';

/**
 * The error shape of every transport: field errors for bad input, nothing
 * internal for anything else. Also given to the WebSocket server.
 */
export function errorFormatter({
  shape,
  error,
}: {
  readonly shape: TRPCDefaultErrorShape;
  readonly error: TRPCError;
}) {
  const flat =
    error.code === 'BAD_REQUEST' && error.cause instanceof z.ZodError ? z.flattenError(error.cause) : null;
  const internal = error.code === 'INTERNAL_SERVER_ERROR';
  const retryAfterSeconds =
    error.cause instanceof RetryLater ? Math.ceil(error.cause.retryAfterMs / 1000) : undefined;
  return {
    ...shape,
    // Storage trouble in a subscription arrives here as an internal error: say what it is.
    message: internal
      ? error.cause instanceof StorageUnavailable
        ? error.cause.message
        : 'Internal server error'
      : flat
        ? describeInputErrors(flat)
        : shape.message,
    data: {
      code: shape.data.code,
      httpStatus: shape.data.httpStatus,
      path: shape.data.path,
      fieldErrors: flat?.fieldErrors ?? null,
      // Also sent as the HTTP Retry-After header.
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    },
  };
}

const t = initTRPC.context<Context>().create({
  // superjson, with malformed or missing inputs answered without superjson's own messages.
  transformer: serverTransformer,
  // Stack traces never leave the server, whatever NODE_ENV says.
  isDev: false,
  errorFormatter,
});

function describeInputErrors(flat: {
  readonly formErrors: readonly string[];
  readonly fieldErrors: Record<string, string[] | undefined>;
}): string {
  const fields = Object.entries(flat.fieldErrors).map(
    ([field, messages]) => `${field}: ${(messages ?? []).join('; ')}`,
  );
  // zod's messages for the input as a whole start with the same words.
  const form = flat.formErrors.map((message) => message.replace(/^Invalid input: /, ''));
  return `Invalid input: ${[...form, ...fields].join(', ')}`;
}

/** Storage out of reach means the service is unavailable for a moment, not a bug: SERVICE_UNAVAILABLE. */
const reportUnavailableStorage = t.middleware(async function reportUnavailableStorage({ next }) {
  const result = await next();
  if (!result.ok && result.error.cause instanceof StorageUnavailable) {
    throw storageUnavailable(result.error.cause);
  }
  return result;
});

/**
 * Bounds what a query or mutation answers: one call at most
 * `MAX_RESPONSE_BYTES`, and over HTTP the calls of one request (a batch,
 * answered in one body) together at most that much. Measured as JSON, the
 * wire format, before tRPC serialises it.
 */
const boundResponse = t.middleware(async function boundResponse({ ctx, type, next }) {
  const result = await next();
  if (!result.ok || type === 'subscription') return result;
  const limit = ctx.config.limits.maxResponseBytes;
  const bytes = Buffer.byteLength(JSON.stringify(result.data) ?? '');
  if (bytes > limit || (ctx.responseBudget && !ctx.responseBudget.take(bytes))) {
    throw responseTooLarge(limit);
  }
  return result;
});

/** With spans exported, a call that starts a workflow becomes the root span of its trace. */
const traceCall = t.middleware(function traceCall({ ctx, path, type, next }) {
  const { tracing } = ctx.observability;
  if (!tracing || type === 'subscription') return next();
  return tracing.call(path, () => next());
});

export const router = t.router;
export const publicProcedure = t.procedure.use(traceCall).use(boundResponse).use(reportUnavailableStorage);
export const middleware = t.middleware;
export const createCallerFactory = t.createCallerFactory;

/** When API_KEYS is set, the call must carry one of them (HTTP header or WebSocket connection params). */
export const requireApiKey = t.middleware(function requireApiKey({ ctx, next }) {
  const check = ctx.apiKeys.check(ctx.caller.apiKey);
  if (check === 'missing' || check === 'invalid') throw apiKeyRejected(check);
  return next();
});

/** Every call on a WebSocket is checked again, not only the connection (SSE needs only the stream token). */
const requireConnectionKey = t.middleware(function requireConnectionKey({ ctx, next }) {
  if (ctx.caller.via !== 'ws') return next();
  const check = ctx.apiKeys.check(ctx.caller.apiKey);
  if (check === 'missing' || check === 'invalid') throw apiKeyRejected(check);
  return next();
});

/**
 * One token of the caller's budget of workflow starts per call (token
 * bucket per API key or address, every kind together). `what` names the
 * starts in the error, as a plural with its verb: "pets created".
 */
export function limitStarts(what: string) {
  return t.middleware(function limitStarts({ ctx, next }) {
    const decision = ctx.startRate.take(clientKey(ctx.caller, ctx.apiKeys));
    if (!decision.allowed) throw tooManyStarts(decision.retryAfterMs, what);
    return next();
  });
}

/** Holds one of the connection's subscription slots for as long as the subscription runs. */
const limitSubscriptions = t.middleware(async function limitSubscriptions({ ctx, next }) {
  const slots = ctx.subscriptions;
  if (!slots) return next();
  const release = slots.take();
  if (!release) throw tooManySubscriptions(slots.limit);
  const result = await next();
  if (!result.ok || !isAsyncIterable(result.data)) {
    release();
    return result;
  }
  return { ...result, data: releaseWhenDone(result.data, release) };
});

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/**
 * Reads application data: `ctx.view` says whether the caller sees it whole
 * or only its public view (anonymous callers when API keys are required).
 */
export const readProcedure = publicProcedure.use(function dataView({ ctx, next }) {
  return next({ ctx: { view: dataViewFor(ctx.caller, ctx.apiKeys) } });
});

/**
 * Operator views (trace list, stats): a valid key when keys are configured,
 * else loopback callers only.
 */
export const operatorProcedure = publicProcedure.use(function requireOperator({ ctx, next }) {
  const denied = operatorAccessError(ctx.caller, ctx.apiKeys);
  if (denied) throw denied;
  return next();
});

/** A mutation: API key checked when keys are configured. */
export const mutationProcedure = publicProcedure.use(requireApiKey);

/** A subscription: counted against the connection's limit; on WebSocket, its key checked again. */
export const subscriptionProcedure = publicProcedure.use(requireConnectionKey).use(limitSubscriptions);
