/**
 * One WebSocket connection speaking tRPC's protocol: keep-alive text,
 * connection params, the context, batches, calls and their ids, and what
 * closing the socket cancels.
 */
import type { IncomingMessage } from 'node:http';

import {
  getErrorShape,
  getTRPCErrorFromUnknown,
  TRPCError,
  type AnyTRPCRootTypes,
  type AnyTRPCRouter,
  type TRPCErrorShape,
  type TRPCRootConfig,
} from '@trpc/server';
import { parseConnectionParamsFromUnknown } from '@trpc/server/http';
import { parseTRPCMessage, type TRPCClientOutgoingMessage, type TRPCResponseMessage } from '@trpc/server/rpc';
import type { RawData, WebSocket } from 'ws';

import { parseUntrustedJson } from '../../security/json-guard.js';
import { Call, runCall, type ConnectionScope, type ContextResult, type ErrorContext } from './call.js';
import { FALLBACK_ERROR_SHAPE, tooManySubscriptions } from './errors.js';
import type { FrameEncoder, RequestId } from './frames.js';
import type { ResolvedWsOptions, WsConnectionParams } from './options.js';
import { boundedSend, type BoundedSend } from './outgoing-buffer.js';

const WEBSOCKET_OPEN = 1;

/** What every connection of one server shares. */
export type ServerShared = {
  readonly options: ResolvedWsOptions<AnyTRPCRouter>;
  readonly config: TRPCRootConfig<AnyTRPCRootTypes>;
  readonly frames: FrameEncoder;
};

export class WsConnection implements ConnectionScope {
  readonly router: AnyTRPCRouter;
  readonly frames: FrameEncoder;
  readonly send: BoundedSend;
  ctx: unknown = undefined;
  readonly #client: WebSocket;
  readonly #req: IncomingMessage;
  readonly #shared: ServerShared;
  /** Running subscriptions by request id: `subscription.stop` and duplicate ids look here. */
  readonly #subscriptions = new Map<RequestId, AbortController>();
  /** Running queries and mutations: their answer can no longer be sent once the socket closes. */
  readonly #calls = new Set<AbortController>();
  /** Aborted when the socket closes (`info.signal` of createContext). */
  readonly #closed = new AbortController();
  /** Null until the connection params message arrives, when the client announced one. */
  #context: Promise<ContextResult> | null;
  #paramsTimer: NodeJS.Timeout | undefined;

  constructor(client: WebSocket, req: IncomingMessage, shared: ServerShared) {
    this.#client = client;
    this.#req = req;
    this.#shared = shared;
    this.router = shared.options.router;
    this.frames = shared.frames;
    const { options } = shared;
    this.send = boundedSend(client, {
      maxBufferedBytes: options.maxBufferedBytes,
      graceMs: options.slowConsumerMs,
      onSlowConsumer: (bufferedAmount) => options.onSlowConsumer?.({ req, bufferedAmount }),
    });
    if (announcesConnectionParams(req)) {
      this.#context = null;
      // Until its params arrive a connection serves nothing; it must not hold a slot for ever.
      this.#paramsTimer = setTimeout(
        () => client.close(1008, 'connection params not received'),
        options.connectionParamsTimeoutMs,
      );
      this.#paramsTimer.unref();
    } else {
      this.#context = this.#makeContext(() => null);
    }
    client.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary));
    client.on('error', (cause: Error) => this.callOnError(unknownError(cause)));
    client.once('close', () => this.#onClose());
  }

  get open(): boolean {
    return this.#client.readyState === WEBSOCKET_OPEN;
  }

  respond(message: TRPCResponseMessage): void {
    if (!this.open) return;
    this.send(this.frames.reply(message));
  }

  /** The error as the client gets it; the minimal shape when the error formatter throws. */
  errorShape(context: ErrorContext): TRPCErrorShape {
    try {
      return getErrorShape({ config: this.#shared.config, ctx: this.ctx, ...context }) as TRPCErrorShape;
    } catch (cause) {
      this.reportInternalError({ ...context, error: getTRPCErrorFromUnknown(cause) });
      return FALLBACK_ERROR_SHAPE;
    }
  }

  /** Tells `onError`; an `onError` that throws or rejects is ignored. */
  callOnError(context: ErrorContext): void {
    this.#guardOnError(context, () => undefined);
  }

  /** A failure of error handling itself (a formatter that throws, a reply that cannot be sent): never dropped silently. */
  reportInternalError(context: ErrorContext): void {
    const log = () => {
      // The last resort when no onError hook can take it, as tRPC's adapter does.
      // eslint-disable-next-line no-console
      console.error('[engine/ws]', context.error);
    };
    if (!this.#shared.options.onError) {
      log();
      return;
    }
    this.#guardOnError(context, log);
  }

  /** Sends a reply not tied to a running call; one that cannot be built or sent becomes the fallback error. */
  respondOrReport(make: () => TRPCResponseMessage): void {
    let message: TRPCResponseMessage | null = null;
    try {
      message = make();
      this.respond(message);
    } catch (cause) {
      this.reportInternalError(unknownError(cause));
      if (message === null) return;
      try {
        this.respond({ id: message.id, jsonrpc: message.jsonrpc, error: FALLBACK_ERROR_SHAPE });
      } catch {
        // Already reported.
      }
    }
  }

  /** A frame without a request: the reconnect notification. */
  notify(text: string): void {
    if (this.open) this.send(text);
  }

  #guardOnError(context: ErrorContext, onFailure: (cause: unknown) => void): void {
    const { onError } = this.#shared.options;
    try {
      const result: unknown = onError?.({ ...context, ctx: this.ctx, req: this.#req });
      if (result instanceof Promise) result.catch(onFailure);
    } catch (cause) {
      onFailure(cause);
    }
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (!Buffer.isBuffer(data)) {
      const error = new TRPCError({
        code: 'UNPROCESSABLE_CONTENT',
        message: 'Unexpected WebSocket message format',
      });
      this.respondOrReport(() => ({ id: null, error: this.errorShape(unknownError(error)) }));
      return;
    }
    const text = isBinary ? null : data.toString('utf8');
    if (text === 'PONG') return;
    if (text === 'PING') {
      this.send('PONG');
      return;
    }
    if (this.#context === null) {
      clearTimeout(this.#paramsTimer);
      this.#context = this.#makeContext(() => {
        let message: unknown;
        try {
          message = this.#decode(text);
          if (!isObject(message)) throw new Error('Message was not an object');
        } catch (cause) {
          throw new TRPCError({
            code: 'PARSE_ERROR',
            message: 'Malformed TRPCConnectionParamsMessage',
            cause,
          });
        }
        return parseConnectionParamsFromUnknown(message['data']);
      });
      return;
    }
    const context = this.#context;
    const messages = this.#parse(text);
    for (const [index, message] of messages.entries()) {
      this.#handle(message, index, context).catch((cause: unknown) =>
        this.reportInternalError(unknownError(cause)),
      );
    }
  }

  /** Every frame is JSON in a text frame; nesting depth and prototype keys are checked before parsing. */
  #decode(text: string | null): unknown {
    if (text === null) throw new Error('Binary frames are not accepted: send JSON in text frames');
    return parseUntrustedJson(text, this.#shared.options.maxJsonDepth);
  }

  /** The calls of a frame (one, or a batch); a frame that does not parse is answered here. */
  #parse(text: string | null): TRPCClientOutgoingMessage[] {
    const { maxBatchSize } = this.#shared.options;
    try {
      const decoded = this.#decode(text);
      const raws: unknown[] = Array.isArray(decoded) ? decoded : [decoded];
      if (Array.isArray(decoded) && maxBatchSize !== undefined && raws.length > maxBatchSize) {
        this.#refuseBatch(raws);
        return [];
      }
      return raws.map((raw) => parseTRPCMessage(raw, this.#shared.config.transformer));
    } catch (cause) {
      const error = new TRPCError({ code: 'PARSE_ERROR', cause });
      this.respondOrReport(() => ({ id: null, error: this.errorShape(unknownError(error)) }));
      return [];
    }
  }

  /** Each call of an oversized batch gets the error under its own id (the frame as a whole when none has one). */
  #refuseBatch(raws: readonly unknown[]): void {
    const error = new TRPCError({ code: 'BAD_REQUEST', message: 'Batch call exceeds maximum size' });
    this.callOnError(unknownError(error));
    const shape = this.errorShape(unknownError(error));
    let responded = false;
    for (const raw of raws) {
      if (!isObject(raw) || raw['method'] === 'subscription.stop') continue;
      const id = raw['id'];
      if (typeof id !== 'number' && typeof id !== 'string') continue;
      const jsonrpc = raw['jsonrpc'] === '2.0' ? '2.0' : undefined;
      this.respondOrReport(() => ({ id, jsonrpc, error: shape }));
      responded = true;
    }
    if (!responded) this.respondOrReport(() => ({ id: null, error: shape }));
  }

  async #handle(message: TRPCClientOutgoingMessage, batchIndex: number, context: Promise<ContextResult>) {
    const { id, jsonrpc } = message;
    if (id === null) {
      const error = new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' });
      this.callOnError(unknownError(error));
      this.respond({ id, jsonrpc, error: this.errorShape(unknownError(error)) });
      return;
    }
    if (message.method === 'subscription.stop') {
      this.#subscriptions.get(id)?.abort();
      return;
    }
    const { path, lastEventId } = message.params;
    let { input } = message.params;
    // The client's resume point becomes part of the input, as tRPC's adapter does it.
    if (lastEventId !== undefined) {
      if (isObject(input)) input = { ...input, lastEventId };
      else input ??= { lastEventId };
    }
    const call = new Call(this, { id, jsonrpc, type: message.method, path, input, batchIndex });
    if (call.request.type !== 'subscription') {
      this.#calls.add(call.abortController);
      await runCall(call, context, () => this.#calls.delete(call.abortController));
      return;
    }
    if (this.#subscriptions.has(id)) {
      call.respondWithError(new TRPCError({ message: `Duplicate id ${id}`, code: 'BAD_REQUEST' }));
      return;
    }
    const limit = this.#shared.options.maxSubscriptionsPerConnection;
    if (this.#subscriptions.size >= limit) {
      call.respondWithError(tooManySubscriptions(limit));
      return;
    }
    this.#subscriptions.set(id, call.abortController);
    await runCall(call, context, () => {
      if (!this.open) call.abort();
      if (this.#subscriptions.get(id) === call.abortController) this.#subscriptions.delete(id);
    });
  }

  /** Makes the context once; on failure the client gets the error (`id: null`) and the socket closes. */
  async #makeContext(connectionParams: () => WsConnectionParams): Promise<ContextResult> {
    const { options } = this.#shared;
    try {
      const params = connectionParams();
      if (options.authorizeConnection)
        await options.authorizeConnection({ req: this.#req, connectionParams: params });
      this.ctx = await options.createContext?.({
        req: this.#req,
        res: this.#client,
        info: {
          connectionParams: params,
          calls: [],
          isBatchCall: false,
          accept: null,
          type: 'unknown',
          signal: this.#closed.signal,
          url: null,
        },
      });
      return { ok: true };
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      this.callOnError(unknownError(error));
      this.respondOrReport(() => ({ id: null, error: this.errorShape(unknownError(error)) }));
      setImmediate(() => this.#client.close());
      return { ok: false, error };
    }
  }

  #onClose(): void {
    clearTimeout(this.#paramsTimer);
    for (const subscription of this.#subscriptions.values()) subscription.abort();
    this.#subscriptions.clear();
    for (const call of this.#calls) call.abort();
    this.#calls.clear();
    this.#closed.abort();
  }
}

function unknownError(cause: unknown): ErrorContext {
  return { error: getTRPCErrorFromUnknown(cause), type: 'unknown', path: undefined, input: undefined };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** tRPC clients configured with `connectionParams` say so in the URL, then send them first. */
function announcesConnectionParams(req: IncomingMessage): boolean {
  try {
    return new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
  } catch {
    return false;
  }
}
