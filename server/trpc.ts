/**
 * The only tRPC instance. It fixes the transformer (superjson, shared with the
 * client) and the error shape: field errors for bad input, nothing internal
 * for anything else.
 */
import { initTRPC } from '@trpc/server';
import { z } from 'zod';

import { transformer } from '../shared/transformer.js';
import type { Topic } from './bus/topics.js';
import { newTraceId, type Context } from './context.js';
import { workflowLogger } from './log.js';
import type { Emit } from './workers/define-step.js';
import { createEmit } from './workers/step-runner.js';

const t = initTRPC.context<Context>().create({
  transformer,
  // Stack traces never leave the server, whatever NODE_ENV says.
  isDev: false,
  errorFormatter({ shape, error }) {
    const fieldErrors =
      error.code === 'BAD_REQUEST' && error.cause instanceof z.ZodError
        ? z.flattenError(error.cause).fieldErrors
        : null;
    const internal = error.code === 'INTERNAL_SERVER_ERROR';
    return {
      ...shape,
      message: internal ? 'Internal server error' : fieldErrors ? describeFieldErrors(fieldErrors) : shape.message,
      data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, fieldErrors },
    };
  },
});

function describeFieldErrors(fieldErrors: Record<string, string[] | undefined>): string {
  const parts = Object.entries(fieldErrors).map(([field, messages]) => `${field}: ${(messages ?? []).join('; ')}`);
  return `Invalid input: ${parts.join(', ')}`;
}

export const router = t.router;
export const publicProcedure = t.procedure;
export const middleware = t.middleware;
export const createCallerFactory = t.createCallerFactory;

/**
 * A procedure that starts workflow work: it gets a fresh trace id, a logger
 * bound to it and an `emit` limited to the topics it declares, the same
 * context a step handler gets.
 */
export function workflowProcedure<const TEmits extends Topic>(name: string, emits: readonly TEmits[]) {
  return publicProcedure.use(({ ctx, next }) => {
    const traceId = newTraceId();
    const emit: Emit<TEmits> = createEmit(ctx.bus, traceId, emits, name);
    return next({ ctx: { traceId, logger: workflowLogger(ctx.log, traceId, name), emit } });
  });
}
