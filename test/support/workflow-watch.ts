/**
 * Watching any workflow through the engine's generic watch as the server
 * sends it, without client-side dedupe: `workflows.onUpdate` as raw tRPC
 * WebSocket frames and as tRPC's SSE, and the plain SSE route
 * `GET /workflows/<traceId>/events`. Each answer is kept as sent, and read
 * back into events (of every stream) and how it ended.
 */

import WebSocket from 'ws';

import type { StreamEvent } from '../../shared/stream-event.js';
import { transformer } from '../../shared/transformer.js';
import {
  Collector,
  get,
  readBlocks,
  REQUEST_ID,
  TRANSPORTS,
  type ErrorShape,
  type Serialized,
  type Transport,
  type WatchEnd,
  type WsFrame,
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

async function wsWatch(url: string, request: WorkflowWatchRequest): Promise<OpenWorkflowWatch> {
  const socket = new WebSocket(url);
  const collector = new Collector<WorkflowEvent>();
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', () => reject(new Error('closed before open')));
  });
  // A started subscription ends with `stopped`, after its error if it has one; one refused at once, with its error.
  let started = false;
  let failed: WatchEnd | null = null;
  socket.on('message', (raw: Buffer) => {
    const text = raw.toString();
    collector.raw.push(text);
    const frame = JSON.parse(text) as WsFrame;
    if (frame.error) {
      const error = transformer.deserialize<ErrorShape>(frame.error);
      failed = { kind: 'error', code: error.data.code, message: error.message };
      if (!started) collector.finish(failed);
    } else if (frame.result?.type === 'started') {
      started = true;
    } else if (frame.result?.type === 'data' && frame.result.data !== undefined) {
      collector.event(
        transformer.deserialize<{ data: WorkflowEvent }>(frame.result.data).data,
        frame.result.id,
      );
    } else if (frame.result?.type === 'stopped') {
      collector.finish(failed ?? { kind: 'completed' });
    }
  });
  socket.once('close', (code: number) =>
    collector.finish({ kind: 'error', code: 'CLOSED', message: `socket closed (${code})` }),
  );
  socket.send(
    JSON.stringify({
      id: REQUEST_ID,
      method: 'subscription',
      params: {
        path: PATH,
        input: transformer.serialize(procedureInput(request, false)),
        ...(request.lastEventId === undefined ? {} : { lastEventId: request.lastEventId }),
      },
    }),
  );
  return collector.open(() => socket.terminate());
}

/** tRPC's own SSE: `connected`, data blocks (superjson), `serialized-error`, `return`. */
async function trpcSseWatch(baseUrl: string, request: WorkflowWatchRequest): Promise<OpenWorkflowWatch> {
  const byHeader = request.resumeBy === 'header' && request.lastEventId !== undefined;
  const input = JSON.stringify(transformer.serialize(procedureInput(request, !byHeader)));
  const response = await get(
    `${baseUrl}/trpc/${PATH}?input=${encodeURIComponent(input)}`,
    byHeader ? { 'Last-Event-ID': request.lastEventId ?? '' } : {},
  );
  const collector = new Collector<WorkflowEvent>();
  const reading = readBlocks(response.res, (block, text) => {
    collector.raw.push(text);
    if (block.event === 'serialized-error') {
      const error = transformer.deserialize<ErrorShape>(JSON.parse(block.data ?? 'null') as Serialized);
      collector.finish({ kind: 'error', code: error.data.code, message: error.message });
    } else if (block.event === 'return') {
      collector.finish({ kind: 'completed' });
    } else if (block.event === undefined && block.data !== undefined) {
      collector.event(transformer.deserialize<WorkflowEvent>(JSON.parse(block.data) as Serialized), block.id);
    }
  });
  void reading.then(() => collector.finish({ kind: 'error', code: 'CLOSED', message: 'response ended' }));
  return collector.open(response.close);
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
