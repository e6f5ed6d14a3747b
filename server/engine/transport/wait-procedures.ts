/**
 * Waits over tRPC: what a workflow waits for (`workflows.waits`), and the
 * one way an application's procedure gives a waiting workflow its input
 * (`answerWait`).
 */
import { TRPCError } from '@trpc/server';
import { z } from 'zod';

import { TraceIdSchema } from '../../../shared/trace-id.js';
import { streamTokenRejected, workflowNotFound } from '../errors.js';
import { NotWaiting } from '../waits/waits.js';
import type { WaitRecord } from '../waits/wait-store.js';
import type { Context } from './context.js';
import { publicProcedure } from './trpc.js';

/** A wait as watchers see it: what is awaited, from whom, until when, and how it ended. */
export type WaitView = Omit<WaitRecord, 'message' | 'traceId' | 'flow'>;

export const WaitsInput = z.strictObject({
  traceId: TraceIdSchema,
  /** The workflow's stream token: whoever may watch it may see what it waits for. */
  token: z.string().max(1024).optional(),
});

/** `workflows.waits`: every wait of one workflow, in the order they opened. */
export const waitsProcedure = publicProcedure.input(WaitsInput).query(async ({ input, ctx }) => {
  const check = ctx.tokens.verify(null, input.traceId, input.token);
  if (check !== 'ok') throw streamTokenRejected(check);
  if (!(await ctx.workflows.get(input.traceId))) throw workflowNotFound();
  const waits = await ctx.waits.list(input.traceId);
  return waits.map(waitView);
});

/**
 * Gives the workflow the input its step waits for under `name`; its step
 * then runs again and `waitFor` returns it. CONFLICT when the workflow is
 * not waiting for it (never was, not yet, or no longer: answered, timed
 * out or cancelled), naming why.
 */
export async function answerWait(
  ctx: Pick<Context, 'waits'>,
  request: { readonly traceId: string; readonly name: string; readonly input: unknown; readonly by: string },
): Promise<WaitView> {
  try {
    return waitView(await ctx.waits.answer(request.traceId, request.name, request.input, request.by));
  } catch (error) {
    if (error instanceof NotWaiting)
      throw new TRPCError({ code: 'CONFLICT', message: error.message, cause: error });
    throw error;
  }
}

/** The wait without what only the engine needs (the step's message). */
function waitView(record: WaitRecord): WaitView {
  const { name, step, awaitedBy, status, input, by, openedAt, deadline, settledAt } = record;
  return { name, step, awaitedBy, status, input, by, openedAt, deadline, settledAt };
}
