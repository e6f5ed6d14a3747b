/**
 * Watching `petCreation` as the server sends it, without any client-side
 * dedupe: raw WebSocket frames, the tRPC subscription over SSE, and the
 * plain SSE stream. Each transport's answer
 * is kept as sent and also read back into events and how it ended, so one
 * test can assert the same thing on every transport.
 */
import http from 'node:http';

import WebSocket from 'ws';

import type { PetCreationEvent } from '../../shared/pet-creation.js';
import type { StreamEvent } from '../../shared/stream-event.js';
import { transformer } from '../../shared/transformer.js';
import { END_AFTER_FINISHED_MS } from './async.js';
import type { TestApp } from './test-app.js';

/** What a server serves: tRPC over its WebSocket and over SSE, and plain SSE. */
export const TRANSPORTS = ['ws', 'trpc-sse', 'sse'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export const SERVER_TRANSPORTS = TRANSPORTS;
export type ServerTransport = Transport;

/**
 * How a watch ended. `CLOSED` is the connection going away without the
 * subscription's own end; `NOT_ENDED`, a finished event the server did not
 * follow with the end within END_AFTER_FINISHED_MS.
 */
export type WatchEnd =
  | { readonly kind: 'completed' }
  | { readonly kind: 'error'; readonly code: string; readonly message: string }
  /** Plain SSE: 204, nothing to stream. */
  | { readonly kind: 'no-content' };

export type RawWatch = {
  /** What the server sent: WebSocket frames, or SSE blocks, as text. */
  readonly raw: string[];
  readonly events: PetCreationEvent[];
  readonly end: WatchEnd;
};

export type WatchRequest = {
  readonly traceId: string;
  readonly token: string;
  readonly lastEventId?: string;
  /** The tRPC subscription watched on 'ws' and 'trpc-sse'. @default 'petCreation.onUpdate' */
  readonly procedure?: string;
  /** The plain SSE route for 'sse', without its query. @default `/pets/streams/<traceId>` */
  readonly ssePath?: string;
};

/** A live watch: its events so far, and its end once it came. */
export type OpenWatch = {
  readonly events: PetCreationEvent[];
  readonly raw: string[];
  /** Resolves once the server ended the watch. */
  readonly ended: Promise<RawWatch>;
  /** Resolves once `count` events came. */
  readonly received: (count: number) => Promise<void>;
  readonly close: () => void;
};

/** Endpoints of one test app for each transport; `close` closes the watches still open. */
export type WatchEndpoints = {
  readonly open: (transport: Transport, request: WatchRequest) => Promise<OpenWatch>;
  readonly close: () => Promise<void>;
};

/** The app's own endpoints, one per transport. */
export function watchEndpoints(ctx: TestApp): Promise<WatchEndpoints> {
  const watches: OpenWatch[] = [];
  return Promise.resolve({
    open: async (transport, request) => {
      const watch = await openRawWatch(ctx.url, transport, request);
      watches.push(watch);
      return watch;
    },
    close: async () => {
      for (const watch of watches) watch.close();
    },
  });
}

/** A watch of the server at `baseUrl` (`http://host:port`) on one of its own transports. */
export function openRawWatch(
  baseUrl: string,
  transport: ServerTransport,
  request: WatchRequest,
): Promise<OpenWatch> {
  switch (transport) {
    case 'ws':
      return wsWatch(`${baseUrl.replace(/^http/, 'ws')}/trpc`, request);
    case 'trpc-sse':
      return trpcSseWatch(baseUrl, request);
    case 'sse':
      return sseWatch(baseUrl, request);
  }
}

/** Collects events and the end as they come, for every transport alike. */
export class Collector<TEvent extends StreamEvent<unknown> = PetCreationEvent> {
  readonly events: TEvent[] = [];
  readonly raw: string[] = [];
  #end: WatchEnd | null = null;
  #endDue: NodeJS.Timeout | undefined;
  readonly #waiters = new Set<() => void>();

  /** One event, and the id its frame or block carries (what a client resumes from): they must agree. */
  event(event: TEvent, id: unknown): void {
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

  async ended(): Promise<{ raw: string[]; events: TEvent[]; end: WatchEnd }> {
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

  /** The live watch over these events; `close` cuts its connection. */
  open(close: () => void) {
    return {
      events: this.events,
      raw: this.raw,
      ended: this.ended(),
      received: (count: number) => this.received(count),
      close,
    };
  }
}

/** A live watch as a Collector opens it. */
export type CollectedWatch<TEvent extends StreamEvent<unknown>> = ReturnType<Collector<TEvent>['open']>;

export const REQUEST_ID = 1;

export type Serialized = Parameters<typeof transformer.deserialize>[0];

export type WsFrame = {
  readonly id?: unknown;
  readonly result?: { readonly type: string; readonly data?: Serialized; readonly id?: unknown };
  readonly error?: Serialized;
};

export type ErrorShape = { readonly message: string; readonly data: { readonly code: string } };

async function wsWatch(url: string, request: WatchRequest): Promise<OpenWatch> {
  const input = { traceId: request.traceId, token: request.token };
  return wsSubscription<PetCreationEvent>(
    url,
    request.procedure ?? 'petCreation.onUpdate',
    input,
    request.lastEventId,
  );
}

/**
 * One raw tRPC subscription on its own WebSocket: every frame kept as sent.
 * A started subscription ends with `stopped`, after its error if it has one;
 * one refused at once ends with its error.
 */
export async function wsSubscription<TEvent extends StreamEvent<unknown>>(
  url: string,
  path: string,
  input: unknown,
  lastEventId: string | undefined,
): Promise<CollectedWatch<TEvent>> {
  const socket = new WebSocket(url);
  const collector = new Collector<TEvent>();
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', () => reject(new Error('closed before open')));
  });
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
      collector.event(transformer.deserialize<{ data: TEvent }>(frame.result.data).data, frame.result.id);
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
        path,
        input: transformer.serialize(input),
        ...(lastEventId === undefined ? {} : { lastEventId }),
      },
    }),
  );
  return collector.open(() => socket.terminate());
}

/** One Server-Sent Events block: its fields, and its comment lines. */
export type SseBlock = {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  readonly comments: string[];
};

type SseResponse = {
  readonly status: number;
  readonly res: http.IncomingMessage;
  readonly close: () => void;
};

export function get(url: string, headers: Record<string, string> = {}): Promise<SseResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      res.setEncoding('utf8');
      resolve({ status: res.statusCode ?? 0, res, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** Reads SSE blocks as they come, keeping each one's text. */
export function readBlocks(
  res: http.IncomingMessage,
  onBlock: (block: SseBlock, text: string) => void,
): Promise<void> {
  return new Promise((resolve) => {
    let buffer = '';
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        onBlock(parseBlock(text), text);
      }
    });
    res.once('close', () => resolve());
  });
}

export function parseBlock(text: string): SseBlock {
  const block: { id?: string; event?: string; data?: string; comments: string[] } = { comments: [] };
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) block.comments.push(line.slice(1).trim());
    else if (line.startsWith('id: ')) block.id = line.slice(4);
    else if (line.startsWith('event: ')) block.event = line.slice(7);
    else if (line.startsWith('data: '))
      block.data = (block.data === undefined ? '' : `${block.data}\n`) + line.slice(6);
  }
  return block;
}

/** tRPC's own SSE: `connected`, data blocks (superjson), `serialized-error`, `return`. */
async function trpcSseWatch(baseUrl: string, request: WatchRequest): Promise<OpenWatch> {
  const input = {
    traceId: request.traceId,
    token: request.token,
    ...(request.lastEventId === undefined ? {} : { lastEventId: request.lastEventId }),
  };
  return trpcSseSubscription<PetCreationEvent>(baseUrl, request.procedure ?? 'petCreation.onUpdate', input);
}

/** One subscription over tRPC's SSE (`input` in the URL), every block kept as sent. */
export async function trpcSseSubscription<TEvent extends StreamEvent<unknown>>(
  baseUrl: string,
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<CollectedWatch<TEvent>> {
  const query = encodeURIComponent(JSON.stringify(transformer.serialize(input)));
  const response = await get(`${baseUrl}/trpc/${path}?input=${query}`, headers);
  const collector = new Collector<TEvent>();
  const reading = readBlocks(response.res, (block, text) => {
    collector.raw.push(text);
    if (block.event === 'serialized-error') {
      const error = transformer.deserialize<ErrorShape>(JSON.parse(block.data ?? 'null') as Serialized);
      collector.finish({ kind: 'error', code: error.data.code, message: error.message });
    } else if (block.event === 'return') {
      collector.finish({ kind: 'completed' });
    } else if (block.event === undefined && block.data !== undefined) {
      collector.event(transformer.deserialize<TEvent>(JSON.parse(block.data) as Serialized), block.id);
    }
  });
  void reading.then(() => collector.finish({ kind: 'error', code: 'CLOSED', message: 'response ended' }));
  return collector.open(response.close);
}

/** The plain stream: `id:`, `event:` (the kind), `data:` (the event as JSON); it ends by ending the response. */
async function sseWatch(baseUrl: string, request: WatchRequest): Promise<OpenWatch> {
  const path = request.ssePath ?? `/pets/streams/${request.traceId}`;
  const url = `${baseUrl}${path}?token=${encodeURIComponent(request.token)}`;
  const response = await get(
    url,
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
    const reading = readBlocks(response.res, (block, text) => {
      collector.raw.push(text);
      if (block.data !== undefined) collector.event(JSON.parse(block.data) as PetCreationEvent, block.id);
    });
    void reading.then(() => collector.finish({ kind: 'completed' }));
  }
  return {
    events: collector.events,
    raw: collector.raw,
    ended: collector.ended(),
    received: (count) => collector.received(count),
    close: response.close,
  };
}

/** A watcher that resumed after every cut: all that its connections got, one after the other. */
export type ResumedWatch = {
  readonly events: PetCreationEvent[];
  /** Connections it opened (attempts refused while opening included). */
  readonly connections: number;
  /** How its last connection ended. */
  readonly end: WatchEnd;
};

/**
 * Watches until the finished event, as a client that keeps no state but the
 * last event id would: whenever a connection ends before that event (cut by
 * the server, or closed by `onEvent`), or cannot be opened, it opens a new
 * one with the last event id it saw. Nothing is deduplicated, so an event
 * the server sends twice across connections is there twice. An error the
 * server answers (not a lost connection) ends it.
 */
export async function resumingWatch(
  open: (lastEventId: string | undefined) => Promise<OpenWatch>,
  onEvent: (event: PetCreationEvent, watch: OpenWatch) => void = () => {},
  maxConnections = 200,
): Promise<ResumedWatch> {
  const events: PetCreationEvent[] = [];
  for (let connections = 1; connections <= maxConnections; connections += 1) {
    let watch: OpenWatch;
    try {
      watch = await open(events.at(-1)?.eventId);
    } catch {
      continue;
    }
    for (let seen = 0; ; seen += 1) {
      try {
        await watch.received(seen + 1);
      } catch {
        break;
      }
      const event = watch.events[seen];
      if (event === undefined) break;
      events.push(event);
      onEvent(event, watch);
    }
    const { end } = await watch.ended;
    const refused = end.kind === 'error' && end.code !== 'CLOSED';
    if (events.at(-1)?.kind === 'finished' || refused || end.kind === 'no-content') {
      return { events, connections, end };
    }
  }
  throw new Error(`no finished event after ${maxConnections} connections`);
}
