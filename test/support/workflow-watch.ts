/**
 * Watching any workflow through the engine's generic watch as the server
 * sends it, without client-side dedupe: `workflows.onUpdate` as raw tRPC
 * WebSocket frames and as tRPC's SSE, and the plain SSE route
 * `GET /workflows/<traceId>/events`. Each answer is kept as sent, and read
 * back into events (of every stream) and how it ended.
 */

import type { StreamEvent } from '../../shared/stream-event.js';
import {
  Collector,
  get,
  readBlocks,
  TRANSPORTS,
  trpcSseSubscription,
  wsSubscription,
  type Transport,
  type WatchEnd,
} from './raw-watch.js';

export { TRANSPORTS, type Transport, type WatchEnd };

export type WorkflowEvent = StreamEvent<unknown>;

export type WorkflowWatchRequest = {
  readonly traceId: string;
  readonly token: string;
  readonly lastEventId?: string;
  /** Sent as given (all of the workflow's streams when absent). */
  readonly streams?: readonly string[];
  /** Sent as given: `latest` for current values instead of the history. */
  readonly from?: 'start' | 'latest';
  /**
   * tRPC's SSE only: send `lastEventId` in the input (as tRPC's client does)
   * or as the `Last-Event-ID` header (as an EventSource reconnecting does).
   * @default 'input'
   */
  readonly resumeBy?: 'input' | 'header';
};

export type WorkflowWatchResult = {
  /** What the server sent: WebSocket frames, or SSE blocks (or an error body), as text. */
  readonly raw: string[];
  readonly events: WorkflowEvent[];
  readonly end: WatchEnd;
};

export type OpenWorkflowWatch = {
  readonly events: WorkflowEvent[];
  readonly raw: string[];
  /** Resolves once the server ended the watch. */
  readonly ended: Promise<WorkflowWatchResult>;
  /** Resolves once `count` events came; rejects when the watch ended first. */
  readonly received: (count: number) => Promise<void>;
  readonly close: () => void;
};

/** Watches the workflow on `baseUrl` (`http://host:port`) over one transport. */
export function openWorkflowWatch(
  baseUrl: string,
  transport: Transport,
  request: WorkflowWatchRequest,
): Promise<OpenWorkflowWatch> {
  switch (transport) {
    case 'ws':
      return wsWatch(`${baseUrl.replace(/^http/, 'ws')}/trpc`, request);
    case 'trpc-sse':
      return trpcSseWatch(baseUrl, request);
    case 'sse':
      return sseWatch(baseUrl, request);
  }
}

/** One whole watch: opened, read to its end, closed. */
export async function watchWorkflow(
  baseUrl: string,
  transport: Transport,
  request: WorkflowWatchRequest,
): Promise<WorkflowWatchResult> {
  const watch = await openWorkflowWatch(baseUrl, transport, request);
  try {
    return await watch.ended;
  } finally {
    watch.close();
  }
}

const PATH = 'workflows.onUpdate';

/** The procedure's input: `lastEventId` goes in the input on SSE, beside it on the WebSocket. */
function procedureInput(request: WorkflowWatchRequest, withLastEventId: boolean) {
  return {
    traceId: request.traceId,
    token: request.token,
    ...(request.streams === undefined ? {} : { streams: request.streams }),
    ...(request.from === undefined ? {} : { from: request.from }),
    ...(withLastEventId && request.lastEventId !== undefined ? { lastEventId: request.lastEventId } : {}),
  };
}

function wsWatch(url: string, request: WorkflowWatchRequest): Promise<OpenWorkflowWatch> {
  return wsSubscription<WorkflowEvent>(url, PATH, procedureInput(request, false), request.lastEventId);
}

/** tRPC's own SSE, resuming by the input's `lastEventId` or by the `Last-Event-ID` header. */
function trpcSseWatch(baseUrl: string, request: WorkflowWatchRequest): Promise<OpenWorkflowWatch> {
  const byHeader = request.resumeBy === 'header' && request.lastEventId !== undefined;
  return trpcSseSubscription<WorkflowEvent>(
    baseUrl,
    PATH,
    procedureInput(request, !byHeader),
    byHeader ? { 'Last-Event-ID': request.lastEventId ?? '' } : {},
  );
}

/** The plain stream: `id:`, `event:` (the kind), `data:` (the event as JSON); it ends by ending the response. */
async function sseWatch(baseUrl: string, request: WorkflowWatchRequest): Promise<OpenWorkflowWatch> {
  const query = new URLSearchParams({ token: request.token });
  if (request.streams !== undefined) query.set('streams', request.streams.join(','));
  if (request.from !== undefined) query.set('from', request.from);
  const response = await get(
    `${baseUrl}/workflows/${request.traceId}/events?${query.toString()}`,
    request.lastEventId === undefined ? {} : { 'Last-Event-ID': request.lastEventId },
  );
  const collector = new Collector<WorkflowEvent>();
  if (response.status === 204) {
    collector.finish({ kind: 'no-content' });
  } else if (response.status !== 200) {
    let body = '';
    for await (const chunk of response.res) body += String(chunk);
    collector.raw.push(body);
    const { error } = JSON.parse(body) as { error: { code: string; message: string } };
    collector.finish({ kind: 'error', code: error.code, message: error.message });
  } else {
    const reading = readBlocks(response.res, (block, text) => {
      collector.raw.push(text);
      if (block.data !== undefined) collector.event(JSON.parse(block.data) as WorkflowEvent, block.id);
    });
    void reading.then(() => collector.finish({ kind: 'completed' }));
  }
  return collector.open(response.close);
}
