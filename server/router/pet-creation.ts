import { tracked } from '@trpc/server';
import { z } from 'zod';

import { EventIdSchema } from '../../shared/stream-event.js';
import { TraceIdSchema } from '../../shared/trace-id.js';
import { streamTokenRejected, workflowNotFound } from '../errors.js';
import { serializedEvent } from '../streams/serialized-event.js';
import { router, subscriptionProcedure } from '../trpc.js';

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
  onUpdate: subscriptionProcedure
    .input(PetCreationSubscriptionInput)
    .subscription(async function* ({ input, ctx, signal }) {
      const check = ctx.tokens.verify(input.traceId, input.token);
      if (check !== 'ok') throw streamTokenRejected(check);
      if (!(await ctx.workflows.get(input.traceId))) {
        // A valid token proves the workflow existed: a subscriber resuming
        // after its retention first learns that its history is gone.
        if (input.lastEventId) {
          const reset = ctx.streams.petCreation.resetEvent(input.traceId, input.lastEventId);
          yield tracked(reset.eventId, reset);
        }
        throw workflowNotFound();
      }
      const events = ctx.streams.petCreation.subscribe(input.traceId, {
        after: input.lastEventId ?? null,
        signal,
      });
      for await (const event of events) yield tracked(event.eventId, serializedEvent(event));
    }),
});
