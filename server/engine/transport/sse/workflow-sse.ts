import type http from 'node:http';

import { TRPCError } from '@trpc/server';

import { compareEventIds, isEndKind } from '../../../../shared/stream-event.js';
import { workflowStreamLost } from '../../errors.js';
import { StreamGroupLost } from '../../streams/group-lost.js';
import type { Context } from '../context.js';
import { authorizeWatch, workflowAccess, WorkflowsWatchInput } from '../workflow-procedures.js';
import { SerializedEvent, serializedEvent } from './event-json.js';
import { SseWriter } from './sse-writer.js';

export type WorkflowSseRequest = {
  readonly ctx: Context;
  readonly res: http.ServerResponse;
  /** Only a token of this kind opens the stream; any kind when null. */
  readonly kind: string | null;
  readonly traceId: string;
  readonly token: string | undefined;
  /** The streams to send (all of the workflow's when absent). */
  readonly streams: readonly string[] | undefined;
  /** From the `Last-Event-ID` header or the `lastEventId` query parameter. */
  readonly lastEventId: string | undefined;
  /** `latest` for each item's current value instead of the history (see WorkflowWatchInput). */
  readonly from: string | undefined;
  readonly heartbeatMs: number;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
};

/**
 * One workflow's events as plain Server-Sent Events, with the checks of
 * its tRPC subscription, in their order: input, token, streams, workflow.
 * Those throw a TRPCError before anything is written. Then every event
 * after `lastEventId`, each as `id:` (its event id), `event:` (its kind)
 * and `data:` (the event as JSON); the response ends after the finished
 * event. A resume from the finished event itself answers 204, which tells
 * EventSource clients to stop reconnecting. A workflow that is lost while
 * watched gets a `reset` event, and the response ends: a reconnect is then
 * answered 404.
 */
export async function streamWorkflowSse(request: WorkflowSseRequest): Promise<void> {
  const { ctx, res, signal } = request;
  const parsed = WorkflowsWatchInput.safeParse({
    traceId: request.traceId,
    token: request.token,
    lastEventId: request.lastEventId,
    streams: request.streams,
    from: request.from,
  });
  if (!parsed.success)
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'Invalid input', cause: parsed.error });
  const input = parsed.data;
  const { traceId, lastEventId = null } = input;
  const access = await workflowAccess(ctx, authorizeWatch(ctx, request.kind, input), input);
  if (!access.ok) throw access.error;
  const workflow = await ctx.workflows.get(traceId);
  if (
    lastEventId !== null &&
    workflow?.finishedAt &&
    (await finishedAtOrBefore(ctx, traceId, lastEventId, signal))
  ) {
    res.writeHead(204).end();
    return;
  }

  const writer = new SseWriter(res, { heartbeatMs: request.heartbeatMs });
  writer.open();
  try {
    for await (const event of ctx.workflowLog.pull(traceId, {
      after: lastEventId,
      from: input.from,
      streams: access.streams,
      signal,
    })) {
      const serialized = serializedEvent(event);
      // Each event's JSON text is made once and shared by every subscriber.
      const json = serialized instanceof SerializedEvent ? serialized.json : JSON.stringify(event);
      await writer.event({ id: event.eventId, event: event.kind, json });
    }
  } catch (error) {
    // The stream is open, so the error can only be told in it; the client
    // reconnects with Last-Event-ID and resumes where it stopped.
    if (error instanceof StreamGroupLost) {
      await writer.comment(`ended: ${workflowStreamLost().message}`);
    } else {
      ctx.log.warn({ err: error, traceId }, '❌ SSE stream interrupted');
      await writer.comment('interrupted: reconnect with Last-Event-ID to resume');
    }
  } finally {
    writer.end();
  }
}

/** True when `lastEventId` is the workflow's finished event: nothing will follow. (An id past it gets a reset.) */
async function finishedAtOrBefore(
  ctx: Context,
  traceId: string,
  lastEventId: string,
  signal: AbortSignal,
): Promise<boolean> {
  // The workflow is marked finished just before its finished event is
  // written, so this waits for that event rather than reading a snapshot;
  // no stream is asked for, and the finished event passes every filter.
  for await (const event of ctx.workflowLog.pull(traceId, { after: null, streams: [], signal })) {
    if (isEndKind(event.kind)) return compareEventIds(event.eventId, lastEventId) === 0;
  }
  return false;
}
