import { tracked } from '@trpc/server';
import { z } from 'zod';

import { EventIdSchema } from '../../shared/stream-event.js';
import { TraceIdSchema } from '../../shared/trace-id.js';
import { streamTokenRejected, workflowNotFound } from '../errors.js';
import { publicProcedure, router } from '../trpc.js';

export const PetCreationSubscriptionInput = z.strictObject({
  traceId: TraceIdSchema,
  /** From `pets.create`; optional in the schema so that a missing one is UNAUTHORIZED, not BAD_REQUEST. */
  token: z.string().max(1024).optional(),
  /** Sent back by tRPC clients on reconnect: resume after this event. */
  lastEventId: EventIdSchema.nullish(),
});

export const petCreationRouter = router({
  /**
   * Every event of one workflow's stream, each once and in order: history
   * first, then live; completes after the workflow-finished event.
   */
  onUpdate: publicProcedure
    .input(PetCreationSubscriptionInput)
    .subscription(async function* ({ input, ctx, signal }) {
      const check = ctx.tokens.verify(input.traceId, input.token);
      if (check !== 'ok') throw streamTokenRejected(check);
      if (!(await ctx.workflows.get(input.traceId))) throw workflowNotFound();
      const events = ctx.streams.petCreation.subscribe(input.traceId, {
        after: input.lastEventId ?? null,
        signal,
      });
      for await (const event of events) yield tracked(event.eventId, event);
    }),
});
