import { tracked, type TRPCError } from '@trpc/server';
import { z } from 'zod';

import type { PetCreationData } from '../../shared/pet-creation.js';
import { EventIdSchema, type StreamEvent } from '../../shared/stream-event.js';
import { TraceIdSchema } from '../../shared/trace-id.js';
import type { Context } from '../context.js';
import { streamTokenRejected, workflowNotFound, workflowStreamLost } from '../errors.js';
import { StreamGroupLost } from '../streams/group-lost.js';
import { serializedEvent } from '../streams/serialized-event.js';
import { router, subscriptionProcedure } from '../trpc.js';

export const PetCreationSubscriptionInput = z.strictObject({
  traceId: TraceIdSchema,
  /** From `pets.create`; optional in the schema so that a missing one is UNAUTHORIZED, not BAD_REQUEST. */
  token: z.string().max(1024).optional(),
  /** Sent back by tRPC clients on reconnect: resume after this event. */
  lastEventId: EventIdSchema.nullish(),
});

export type PetCreationSubscriptionInput = z.infer<typeof PetCreationSubscriptionInput>;

/** Whether a subscriber may watch the workflow; when not, what it gets before the error. */
export type PetCreationAccess =
  | { readonly ok: true }
  | { readonly ok: false; readonly reset: StreamEvent<PetCreationData> | null; readonly error: TRPCError };

/** The checks every transport runs before delivering a workflow's stream: token, then existence. */
export async function petCreationAccess(
  ctx: Context,
  input: PetCreationSubscriptionInput,
): Promise<PetCreationAccess> {
  const check = ctx.tokens.verify(input.traceId, input.token);
  if (check !== 'ok') throw streamTokenRejected(check);
  if (await ctx.workflows.get(input.traceId)) return { ok: true };
  // A valid token proves the workflow existed: a subscriber resuming
  // after its retention first learns that its history is gone.
  const reset = input.lastEventId
    ? ctx.streams.petCreation.resetEvent(input.traceId, input.lastEventId)
    : null;
  return { ok: false, reset, error: workflowNotFound() };
}

/** What a subscriber is told when its subscription fails after it started: storage errors pass as they are. */
export function petCreationFailure(error: unknown): unknown {
  return error instanceof StreamGroupLost ? workflowStreamLost() : error;
}

export const petCreationRouter = router({
  /**
   * Every event of one workflow's stream, each once and in order: history
   * first, then live; completes after the workflow-finished event.
   */
  onUpdate: subscriptionProcedure.input(PetCreationSubscriptionInput).subscription(async function* ({
    input,
    ctx,
    signal,
  }) {
    const access = await petCreationAccess(ctx, input);
    if (!access.ok) {
      if (access.reset) yield tracked(access.reset.eventId, access.reset);
      throw access.error;
    }
    const events = ctx.streams.petCreation.subscribe(input.traceId, {
      after: input.lastEventId ?? null,
      signal,
    });
    try {
      for await (const event of events) yield tracked(event.eventId, serializedEvent(event));
    } catch (error) {
      throw petCreationFailure(error);
    }
  }),
});
