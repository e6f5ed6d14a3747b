/**
 * Watching any workflow through the engine's generic watch as the server
 * sends it, without client-side dedupe: `workflows.onUpdate` as raw tRPC
 * WebSocket frames and as tRPC's SSE, and the plain SSE route
 * `GET /workflows/<traceId>/events`. Each answer is kept as sent, and read
 * back into events (of every stream) and how it ended.
 */
import http from 'node:http';

import WebSocket from 'ws';

import type { StreamEvent } from '../../shared/stream-event.js';
import { transformer } from '../../shared/transformer.js';
import { END_AFTER_FINISHED_MS } from './async.js';
import { parseBlock, TRANSPORTS, type Transport, type WatchEnd } from './raw-watch.js';

export { TRANSPORTS, type Transport, type WatchEnd };

export type WorkflowEvent = StreamEvent<unknown>;

export type WorkflowWatchRequest = {
  readonly traceId: string;
  readonly token: string;
  readonly lastEventId?: string;
  /** Sent as given (all of the workflow's streams when absent). */
  readonly streams?: readonly string[];
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

/** Collects events and the end as they come, for every transport alike. */
class Collector {
  readonly events: WorkflowEvent[] = [];
  readonly raw: string[] = [];
  #end: WatchEnd | null = null;
  #endDue: NodeJS.Timeout | undefined;
  readonly #waiters = new Set<() => void>();

  /** One event, and the id its frame or block carries (what a client resumes from): they must agree. */
  event(event: WorkflowEvent, id: unknown): void {
    if (id !== event.eventId) {
      this.finish({
        kind: 'error',
        code: 'ID_MISMATCH',
        message: `event ${event.eventId} was sent with id ${String(id)}`,
      });
    }
    this.events.push(event);
    // Nothing follows the finished event but the end, at once.
    if (event.kind === 'finished' && this.#end === null) {
      this.#endDue ??= setTimeout(
        () =>
          this.finish({
            kind: 'error',
            code: 'NOT_ENDED',
            message: `no end within ${END_AFTER_FINISHED_MS} ms of the finished event`,
          }),
        END_AFTER_FINISHED_MS,
      );
    }
    this.#wake();
  }

  finish(end: WatchEnd): void {
    clearTimeout(this.#endDue);
    this.#end ??= end;
    this.#wake();
  }

  async ended(): Promise<WorkflowWatchResult> {
    await this.#until(() => this.#end !== null);
    return { raw: [...this.raw], events: [...this.events], end: this.#end ?? { kind: 'completed' } };
  }

  async received(count: number): Promise<void> {
    await this.#until(() => this.events.length >= count);
    if (this.events.length < count)
      throw new Error(`the watch ended after ${this.events.length} of ${count} events`);
  }

  async #until(done: () => boolean): Promise<void> {
    while (!done() && this.#end === null) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  open(close: () => void): OpenWorkflowWatch {
    return {
      events: this.events,
      raw: this.raw,
      ended: this.ended(),
      received: (count) => this.received(count),
      close,
    };
  }
}

const REQUEST_ID = 1;
const PATH = 'workflows.onUpdate';

type Serialized = Parameters<typeof transformer.deserialize>[0];

type WsFrame = {
  readonly id?: unknown;
  readonly result?: { readonly type: string; readonly data?: Serialized; readonly id?: unknown };
  readonly error?: Serialized;
};

type ErrorShape = { readonly message: string; readonly data: { readonly code: string } };

/** The procedure's input: `lastEventId` goes in the input on SSE, beside it on the WebSocket. */
function procedureInput(request: WorkflowWatchRequest, withLastEventId: boolean) {
  return {
    traceId: request.traceId,
    token: request.token,
    ...(request.streams === undefined ? {} : { streams: request.streams }),
    ...(withLastEventId && request.lastEventId !== undefined ? { lastEventId: request.lastEventId } : {}),
  };
}

async function wsWatch(url: string, request: WorkflowWatchRequest): Promise<OpenWorkflowWatch> {
  const socket = new WebSocket(url);
  const collector = new Collector();
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

type HttpResponse = {
  readonly status: number;
  readonly res: http.IncomingMessage;
  readonly close: () => void;
};

function get(url: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      res.setEncoding('utf8');
      resolve({ status: res.statusCode ?? 0, res, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** Calls `onBlock` with each SSE block as it comes, and its text; resolves when the response closes. */
function readBlocks(res: http.IncomingMessage, onBlock: (text: string) => void): Promise<void> {
  return new Promise((resolve) => {
    let buffer = '';
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        onBlock(text);
      }
    });
    res.once('close', () => resolve());
  });
}

/** tRPC's own SSE: `connected`, data blocks (superjson), `serialized-error`, `return`. */
async function trpcSseWatch(baseUrl: string, request: WorkflowWatchRequest): Promise<OpenWorkflowWatch> {
  const byHeader = request.resumeBy === 'header' && request.lastEventId !== undefined;
  const input = JSON.stringify(transformer.serialize(procedureInput(request, !byHeader)));
  const response = await get(
    `${baseUrl}/trpc/${PATH}?input=${encodeURIComponent(input)}`,
    byHeader ? { 'Last-Event-ID': request.lastEventId ?? '' } : {},
  );
  const collector = new Collector();
  const reading = readBlocks(response.res, (text) => {
    collector.raw.push(text);
    const block = parseBlock(text);
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
  const response = await get(
    `${baseUrl}/workflows/${request.traceId}/events?${query.toString()}`,
    request.lastEventId === undefined ? {} : { 'Last-Event-ID': request.lastEventId },
  );
  const collector = new Collector();
  if (response.status === 204) {
    collector.finish({ kind: 'no-content' });
  } else if (response.status !== 200) {
    let body = '';
    for await (const chunk of response.res) body += String(chunk);
    collector.raw.push(body);
    const { error } = JSON.parse(body) as { error: { code: string; message: string } };
    collector.finish({ kind: 'error', code: error.code, message: error.message });
  } else {
    const reading = readBlocks(response.res, (text) => {
      collector.raw.push(text);
      const block = parseBlock(text);
      if (block.data !== undefined) collector.event(JSON.parse(block.data) as WorkflowEvent, block.id);
    });
    void reading.then(() => collector.finish({ kind: 'completed' }));
  }
  return collector.open(response.close);
}
