import { tracked } from '@trpc/server';
import { z } from 'zod';

import type { TraceEntry } from '../../../shared/trace.js';
import { TraceIdSchema } from '../../../shared/trace-id.js';
import { streamTokenRejected, traceNotFound } from '../errors.js';
import type { Context } from './context.js';
import { SubscriptionQueue } from '../subscriptions/subscription-queue.js';
import { operatorProcedure, publicProcedure, requireApiKey, router, subscriptionProcedure } from './trpc.js';

export const TRACE_LIST_LIMIT = { default: 20, max: 200 } as const;

/** Live entries a trace subscriber may fall behind by before it is cut off (it can resume). */
const SUBSCRIBER_BUFFER_LIMIT = 10_000;

const SeqSchema = z.string().regex(/^\d{1,15}$/, 'must be an entry number such as "12"');

const TraceAccessInput = {
  traceId: TraceIdSchema,
  /** The workflow's stream token: a trace holds the workflow's data, so it is read with the same right. */
  token: z.string().max(1024).optional(),
};

/**
 * Traces also hold step errors and log lines, so when the service requires
 * API keys, reading them needs one as well as the stream token.
 */
const traceProcedure = publicProcedure.use(requireApiKey);

function checkToken(ctx: Context, traceId: string, token: string | undefined): void {
  const check = ctx.tokens.verify(null, traceId, token);
  if (check !== 'ok') throw streamTokenRejected(check);
}

export const tracesRouter = router({
  /** One workflow's timeline: every step run, emit, stream write and log line. Needs its stream token. */
  get: traceProcedure.input(z.strictObject(TraceAccessInput)).query(async ({ input, ctx }) => {
    checkToken(ctx, input.traceId, input.token);
    const trace = await ctx.observability.traces.get(input.traceId);
    if (!trace) throw traceNotFound();
    return trace;
  }),

  /**
   * Summaries of the kept traces, newest first. Every workflow's trace id and
   * subject: an operator view (a key when keys are configured, else loopback only).
   */
  list: operatorProcedure
    .input(
      z
        .strictObject({
          limit: z.number().int().min(1).max(TRACE_LIST_LIMIT.max).optional(),
          cursor: SeqSchema.nullish(),
        })
        .optional(),
    )
    .query(({ input, ctx }) =>
      ctx.observability.traces.list({
        limit: input?.limit ?? TRACE_LIST_LIMIT.default,
        cursor: input?.cursor,
      }),
    ),

  /**
   * A trace's entries as they are recorded: those kept so far, then live
   * ones, each once and in order. Resumes after `lastEventId` (an entry's
   * `seq`). Runs until the client stops it or the trace is dropped.
   */
  onEvent: subscriptionProcedure
    .use(requireApiKey)
    .input(z.strictObject({ ...TraceAccessInput, lastEventId: SeqSchema.nullish() }))
    .subscription(async function* ({ input, ctx, signal }) {
      checkToken(ctx, input.traceId, input.token);
      const traces = ctx.observability.traces;
      const live = new SubscriptionQueue<TraceEntry>(SUBSCRIBER_BUFFER_LIMIT, signal);
      // Listen before reading: an entry recorded during the read is then queued, and the seq check drops the overlap.
      const unlisten = traces.listen(input.traceId, {
        entry: (entry) => live.push(entry),
        gone: () => live.end(),
      });
      try {
        const kept = await traces.readAfter(
          input.traceId,
          input.lastEventId ? Number(input.lastEventId) : null,
        );
        if (!kept) throw traceNotFound();
        let last = input.lastEventId ? Number(input.lastEventId) : 0;
        for (const entry of kept.entries) {
          yield tracked(String(entry.seq), entry);
          last = entry.seq;
        }
        for await (const entry of live) {
          if (entry.seq <= last) continue;
          yield tracked(String(entry.seq), entry);
          last = entry.seq;
        }
      } finally {
        unlisten();
        live.end();
      }
    }),
});
