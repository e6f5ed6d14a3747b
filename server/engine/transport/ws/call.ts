/**
 * One call of a connection (query, mutation or subscription), from its
 * context being ready to its last frame, as tRPC's adapter runs it.
 */
import {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  TRPCError,
  type AnyTRPCRouter,
  type TRPCErrorShape,
  type TRPCProcedureType,
} from '@trpc/server';
import { isObservable } from '@trpc/server/observable';
import type { TRPCResponseMessage, TRPCResultMessage } from '@trpc/server/rpc';

import { isPushable } from '../../subscriptions/push.js';
import { FALLBACK_ERROR_SHAPE, isAbortError } from './errors.js';
import type { FrameEncoder, RequestId } from './frames.js';
import { pullSubscription } from './pull-subscription.js';
import { pushSubscription } from './push-subscription.js';

/** What an error is reported with (onError) and formatted from (errorFormatter). */
export type ErrorContext = {
  readonly error: TRPCError;
  readonly type: TRPCProcedureType | 'unknown';
  readonly path: string | undefined;
  readonly input: unknown;
};

/** Whether the connection's context could be made; every call waits for it. */
export type ContextResult = { readonly ok: true } | { readonly ok: false; readonly error: TRPCError };

/** What a call needs from its connection. */
export interface ConnectionScope {
  readonly router: AnyTRPCRouter;
  readonly frames: FrameEncoder;
  /** The socket is open: replies are sent, work goes on. */
  readonly open: boolean;
  readonly ctx: unknown;
  /** Writes a frame already made, if the socket is open. */
  send(text: string): void;
  /** Writes a reply through the transformer, if the socket is open. */
  respond(message: TRPCResponseMessage): void;
  errorShape(context: ErrorContext): TRPCErrorShape;
  callOnError(context: ErrorContext): void;
  reportInternalError(context: ErrorContext): void;
  respondOrReport(make: () => TRPCResponseMessage): void;
}

type Result = TRPCResultMessage<unknown>['result'];

export class Call {
  readonly abortController = new AbortController();

  constructor(
    readonly scope: ConnectionScope,
    readonly request: {
      readonly id: RequestId;
      readonly jsonrpc: '2.0' | undefined;
      readonly type: TRPCProcedureType;
      readonly path: string;
      readonly input: unknown;
      readonly batchIndex: number;
    },
  ) {}

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  abort(): void {
    if (!this.abortController.signal.aborted) this.abortController.abort();
  }

  respond(result: Result): void {
    const { id, jsonrpc } = this.request;
    this.scope.respond({ id, jsonrpc, result });
  }

  /** Tells `onError`; returns the error as the client will see it. */
  reportError(cause: unknown): TRPCError {
    const error = getTRPCErrorFromUnknown(cause);
    this.scope.callOnError({ error, ...this.#where() });
    return error;
  }

  respondWithError(cause: unknown): void {
    const error = this.reportError(cause);
    const { id, jsonrpc } = this.request;
    this.scope.respond({ id, jsonrpc, error: this.scope.errorShape({ error, ...this.#where() }) });
  }

  #where() {
    const { type, path, input } = this.request;
    return { type, path, input };
  }
}

/**
 * Runs the call once the context is ready and answers it: its result, or
 * its error; a subscription ends with `stopped` unless its setup failed.
 * `release` runs when the call's work is over, before that last frame.
 */
export async function runCall(
  call: Call,
  context: Promise<ContextResult>,
  release: () => void,
): Promise<void> {
  const outcome = await settle(execute(call, context, release));
  if (!outcome.ok) {
    const error = getTRPCErrorFromUnknown(outcome.error);
    // A setup that gave up because the call was stopped answers `stopped`.
    if (!(call.signal.aborted && error.code === 'INTERNAL_SERVER_ERROR' && isAbortError(error.cause))) {
      try {
        call.respondWithError(error);
      } catch (cause) {
        const { id, jsonrpc, type, path, input } = call.request;
        call.scope.reportInternalError({ error: getTRPCErrorFromUnknown(cause), type, path, input });
        call.scope.respondOrReport(() => ({ id, jsonrpc, error: FALLBACK_ERROR_SHAPE }));
      }
      return;
    }
  }
  if (call.request.type === 'subscription') call.respond({ type: 'stopped' });
}

async function execute(call: Call, context: Promise<ContextResult>, release: () => void): Promise<void> {
  const { scope, request } = call;
  try {
    const ready = await context;
    if (!ready.ok) throw ready.error;
    if (call.signal.aborted || (request.type === 'subscription' && !scope.open)) return;
    const result: unknown = await callTRPCProcedure({
      router: scope.router,
      path: request.path,
      getRawInput: async () => request.input,
      ctx: scope.ctx,
      type: request.type,
      signal: call.signal,
      batchIndex: request.batchIndex,
    });
    if (request.type !== 'subscription') {
      if (isAsyncIterable(result) || isObservable(result)) {
        throw new TRPCError({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `Cannot return an async iterable or observable from a ${request.type} procedure with WebSockets`,
        });
      }
      call.respond({ type: 'data', data: result });
      return;
    }
    if (isPushable(result)) {
      await pushSubscription(call, result);
      return;
    }
    if (!isAsyncIterable(result) && !isObservable(result)) {
      throw new TRPCError({
        message: `Subscription ${request.path} did not return an observable or a AsyncGenerator`,
        code: 'INTERNAL_SERVER_ERROR',
      });
    }
    await pullSubscription(call, result);
  } finally {
    release();
  }
}

/** As tRPC decides it: a non-array object with `Symbol.asyncIterator`. */
function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && Symbol.asyncIterator in value
  );
}

function settle(
  promise: Promise<void>,
): Promise<{ readonly ok: true } | { readonly ok: false; readonly error: unknown }> {
  return promise.then(
    () => ({ ok: true }) as const,
    (error: unknown) => ({ ok: false, error }) as const,
  );
}
