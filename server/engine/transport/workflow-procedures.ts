/**
 * Watching workflows: the one access check and the one event source that
 * every transport uses (tRPC over WebSocket and SSE, plain SSE), the
 * generic `workflows.onUpdate`, and the per-kind subscription an
 * application mounts for each of its workflows.
 */
import { tracked, type TRPCError } from '@trpc/server';
import { z } from 'zod';

import { EventIdSchema } from '../../../shared/stream-event.js';
import { streamTokenExpiry } from '../../../shared/stream-token.js';
import { TraceIdSchema } from '../../../shared/trace-id.js';
import {
  streamTokenRejected,
  unknownStreams,
  workflowAlreadyEnded,
  workflowNotFound,
  workflowStreamLost,
} from '../errors.js';
import type { StreamEventOf, StreamMap } from '../streams/define-stream.js';
import { StreamGroupLost } from '../streams/group-lost.js';
import type { StoredEvent } from '../streams/storage.js';
import { PUSH, type Pushable, type PushSink } from '../subscriptions/push.js';
import type { WorkflowDefinition } from '../workflows/define-workflow.js';
import type { Context } from './context.js';
import { serializedEvent } from './sse/event-json.js';
import { publicProcedure, router, subscriptionProcedure } from './trpc.js';
import { waitsProcedure } from './wait-procedures.js';

/** Streams one subscription may name, at most. */
export const MAX_WATCHED_STREAMS = 16;

const StreamNameSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, 'must be a stream name');

/** A workflow and its token: what acting on one workflow takes. */
export const WorkflowTokenInput = z.strictObject({
  traceId: TraceIdSchema,
  /** From the call that started the workflow; optional in the schema so that a missing one is UNAUTHORIZED, not BAD_REQUEST. */
  token: z.string().max(1024).optional(),
});

export const WorkflowWatchInput = WorkflowTokenInput.extend({
  /** Sent back by tRPC clients on reconnect: resume after this event. */
  lastEventId: EventIdSchema.nullish(),
  /**
   * `latest`: each item's current value once, then live events, instead of
   * the whole history; a resume (`lastEventId`) resumes the log after it,
   * as for any subscription. @default 'start'
   */
  from: z.enum(['start', 'latest']).optional(),
});
export type WorkflowWatchInput = z.infer<typeof WorkflowWatchInput>;

export const WorkflowsWatchInput = WorkflowWatchInput.extend({
  /** When given, only a token of this workflow kind opens it (the client's typing relies on it). */
  kind: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, 'must be a workflow kind')
    .optional(),
  /** The streams to get (all of the workflow's when absent); the `finished` event comes whatever they are. */
  streams: z.array(StreamNameSchema).min(1).max(MAX_WATCHED_STREAMS).optional(),
});
export type WorkflowsWatchInput = z.infer<typeof WorkflowsWatchInput>;

/** Whether a subscriber may watch; when not, what it gets before the error. */
export type WorkflowAccess =
  | { readonly ok: true; readonly kind: string; readonly streams: readonly string[] }
  | { readonly ok: false; readonly reset: StoredEvent | null; readonly error: TRPCError };

/** What a token and the streams asked for allow: the workflow kind and the streams to deliver. */
export type WatchGrant = { readonly kind: string; readonly streams: readonly string[] };

/**
 * The checks that need no storage, made before a subscription opens: the
 * token (for `kind`, or any kind when null), then the streams asked for.
 * A token for another workflow or another kind is FORBIDDEN at once.
 */
export function authorizeWatch(
  ctx: Context,
  kind: string | null,
  input: WorkflowWatchInput & { readonly streams?: readonly string[] | undefined },
): WatchGrant {
  const check = ctx.tokens.verify(kind, input.traceId, input.token);
  if (check !== 'ok') throw streamTokenRejected(check);
  // A verified token names the workflow's kind.
  const tokenKind = kind ?? ctx.tokens.kindOf(input.token) ?? '';
  const workflow = ctx.workflows.registry.find(tokenKind);
  if (!workflow) throw workflowNotFound();
  const own = Object.keys(workflow.streams);
  const streams = input.streams ?? own;
  const unknown = streams.filter((name) => !own.includes(name));
  if (unknown.length > 0) throw unknownStreams(workflow.kind, unknown);
  return { kind: workflow.kind, streams };
}

/**
 * The checks every transport runs before delivering a workflow's events,
 * in this order: the token and the streams (authorizeWatch, throws), then
 * the workflow's existence (a refusal, with the `reset` a resuming
 * subscriber gets first).
 */
export async function workflowAccess(
  ctx: Context,
  grant: WatchGrant,
  input: WorkflowWatchInput,
): Promise<WorkflowAccess> {
  const { kind, streams } = grant;
  if (await ctx.workflows.get(input.traceId)) return { ok: true, kind, streams };
  // A valid token proves the workflow existed: a subscriber resuming
  // after its retention first learns that its history is gone.
  const reset = input.lastEventId
    ? ctx.workflowLog.resetEvent(input.traceId, input.lastEventId, streams[0] ?? '')
    : null;
  return { ok: false, reset, error: workflowNotFound() };
}

/** What a subscriber is told when its subscription fails after it started: storage errors pass as they are. */
export function watchFailure(error: unknown): unknown {
  return error instanceof StreamGroupLost ? workflowStreamLost() : error;
}

/** An event as a tracked tRPC value: its id is the resume point. */
type Tracked<TEvent> = ReturnType<typeof tracked<TEvent>>;

export type WorkflowEventsOptions = {
  /** Only a token of this kind opens it; any kind when null. */
  readonly kind: string | null;
  readonly input: WorkflowsWatchInput;
  readonly signal?: AbortSignal | undefined;
};

/**
 * One subscription's events: pulled (tRPC's SSE, in-process callers) or
 * pushed (our WebSocket server), from the same fan-out, each once and in
 * order, ending after the workflow's `finished` event. Access is checked
 * (workflowAccess) when delivery starts, on either path: a refusal is a
 * `reset` (when there is one) and then the error.
 */
export class WorkflowEvents<TEvent extends StoredEvent = StoredEvent>
  implements AsyncIterable<Tracked<TEvent>>, Pushable<StoredEvent>
{
  readonly #ctx: Context;
  readonly #options: WorkflowEventsOptions;
  readonly #grant: WatchGrant;

  /** Throws (before any delivery starts) for a token or stream list that does not open the workflow. */
  constructor(ctx: Context, options: WorkflowEventsOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#grant = authorizeWatch(ctx, options.kind, options.input);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Tracked<TEvent>> {
    const { input, signal } = this.#options;
    const access = await workflowAccess(this.#ctx, this.#grant, input);
    // The log holds this workflow's events, of the streams asked for: the casts restate their type.
    if (!access.ok) {
      if (access.reset) yield tracked(access.reset.eventId, access.reset as TEvent);
      throw access.error;
    }
    const events = this.#ctx.workflowLog.pull(input.traceId, {
      after: input.lastEventId ?? null,
      from: input.from,
      streams: access.streams,
      signal,
    });
    try {
      for await (const event of events) yield tracked(event.eventId, serializedEvent(event) as TEvent);
    } catch (error) {
      throw watchFailure(error);
    }
  }

  [PUSH](sink: PushSink<StoredEvent>): () => void {
    const { input } = this.#options;
    let stopped = false;
    let stop: (() => void) | null = null;
    workflowAccess(this.#ctx, this.#grant, input).then(
      (access) => {
        if (stopped) return;
        if (!access.ok) {
          if (access.reset) sink.event(access.reset.eventId, access.reset);
          sink.end(access.error);
          return;
        }
        stop = this.#ctx.workflowLog.push(
          input.traceId,
          { after: input.lastEventId ?? null, from: input.from, streams: access.streams },
          {
            event: (event) => sink.event(event.eventId, serializedEvent(event)),
            end: (error) => sink.end(error === undefined ? undefined : watchFailure(error)),
          },
        );
      },
      (error: unknown) => {
        if (!stopped) sink.end(error);
      },
    );
    return () => {
      stopped = true;
      stop?.();
    };
  }
}

/**
 * The subscription of one workflow kind: every event of `streams` (all of
 * the workflow's when absent) in log order, history first, then live,
 * resumed after `lastEventId`; it completes after the `finished` event.
 * Only a token of this kind opens it.
 *
 * @example
 * export const adoptionsRouter = router({ onUpdate: workflowSubscription(adoptionWorkflow) });
 */
export function workflowSubscription<
  TStreams extends StreamMap,
  const TNames extends keyof TStreams & string = keyof TStreams & string,
>(
  workflow: Pick<WorkflowDefinition<unknown, string, TStreams>, 'kind' | 'streams'>,
  options: { readonly streams?: readonly TNames[] } = {},
) {
  const streams: readonly string[] = options.streams ?? Object.keys(workflow.streams);
  return subscriptionProcedure.input(WorkflowWatchInput).subscription(
    ({ input, ctx, signal }) =>
      new WorkflowEvents<StreamEventOf<TStreams, TNames>>(ctx, {
        kind: workflow.kind,
        input: { ...input, streams: [...streams] },
        signal,
      }),
  );
}

/** The token opens the workflow (any kind): UNAUTHORIZED or FORBIDDEN otherwise, as for watching. */
function checkToken(ctx: Context, input: z.infer<typeof WorkflowTokenInput>): void {
  const check = ctx.tokens.verify(null, input.traceId, input.token);
  if (check !== 'ok') throw streamTokenRejected(check);
}

/** The engine's generic watch and control of any workflow, by its token's kind. */
export const workflowsRouter = router({
  /**
   * Cancels a running workflow; whoever holds its token may. Running steps
   * get their abort signal, waits end, and a final event of kind
   * `cancelled` ends every subscription; a resume after it completes.
   * NOT_FOUND for an unknown workflow, CONFLICT for one that has already
   * ended (finished or cancelled).
   */
  /**
   * A new token for the same workflow and kind, with a full time to live,
   * for a valid (not yet expired) one; whoever holds it may. NOT_FOUND once
   * the workflow is no longer stored. `expiresAt` is ISO-8601.
   */
  refreshToken: publicProcedure.input(WorkflowTokenInput).mutation(async ({ input, ctx }) => {
    checkToken(ctx, input);
    if (!(await ctx.workflows.get(input.traceId))) throw workflowNotFound();
    // A verified token names its kind.
    const token = ctx.tokens.issue(ctx.tokens.kindOf(input.token) ?? '', input.traceId);
    return { token, expiresAt: new Date(streamTokenExpiry(token) ?? 0).toISOString() };
  }),
  cancel: publicProcedure.input(WorkflowTokenInput).mutation(async ({ input, ctx }) => {
    checkToken(ctx, input);
    const result = await ctx.workflows.cancel(input.traceId);
    switch (result.status) {
      case 'unknown':
        throw workflowNotFound();
      case 'ended':
        throw workflowAlreadyEnded(result.state.cancelledAt === null ? 'finished' : 'cancelled');
      case 'cancelled':
        return { traceId: input.traceId, eventId: result.eventId };
    }
  }),
  /**
   * Every event of the named streams (all when absent) of any workflow, in
   * log order with one cursor across streams; history first, resume by
   * `lastEventId`; completes after the `finished` event whatever the filter.
   */
  onUpdate: subscriptionProcedure
    .input(WorkflowsWatchInput)
    .subscription(
      ({ input, ctx, signal }) => new WorkflowEvents(ctx, { kind: input.kind ?? null, input, signal }),
    ),
  /** What the workflow waits for (or waited for): name, from whom, until when, how it ended. */
  waits: waitsProcedure,
});
