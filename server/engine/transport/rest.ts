/**
 * Plain REST and SSE for curl and for clients without tRPC: what an
 * application's routes are made of, and the engine's own route for
 * watching any workflow. Routes go through the router's caller with the
 * same context as tRPC, so validation, behaviour and answers are those of
 * the procedures; errors map to HTTP statuses as tRPC's own do.
 */
import type http from 'node:http';

import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { z } from 'zod';

import { RetryLater } from '../errors.js';
import type { Logger } from '../log.js';
import { callerFromRequest } from '../security/caller.js';
import type { Context, RequestScope } from './context.js';
import { sendError, sendJson, type HttpRoute } from './http-routes.js';
import { streamWorkflowSse } from './sse/workflow-sse.js';

type RouteWork = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  params: Readonly<Record<string, string>>,
  url: URL,
) => Promise<void>;

/** The context of one plain HTTP request: each request is its own client, as on tRPC over HTTP. */
export function requestContext(
  createContext: (scope: RequestScope) => Context,
  req: http.IncomingMessage,
): Context {
  return createContext({ caller: callerFromRequest(req, 'http'), subscriptions: null });
}

/** A route handler whose failures are answered as JSON errors with tRPC's status codes. */
export function restHandler(log: Logger, work: RouteWork): HttpRoute['handle'] {
  return async (req, res, params, url) => {
    try {
      await work(req, res, params, url);
    } catch (error) {
      sendFailure(res, error, log);
    }
  };
}

export type WorkflowSseRouteOptions = {
  readonly createContext: (scope: RequestScope) => Context;
  readonly log: Logger;
  /** A pattern with a `traceId` group. */
  readonly path: RegExp;
  /** Only a token of this kind opens it; any kind when null. */
  readonly kind: string | null;
  /** The streams sent; when absent, the `streams` query parameter (comma-separated), else all. */
  readonly streams?: readonly string[];
  /** Quiet time after which the stream gets a heartbeat comment; 0 disables. */
  readonly heartbeatMs: number;
};

/** GET `<path>?token=…[&streams=a,b][&from=latest]`: a workflow's events as plain SSE, resumed by `Last-Event-ID`. */
export function workflowSseRoute(options: WorkflowSseRouteOptions): HttpRoute {
  return {
    method: 'GET',
    path: options.path,
    handle: restHandler(options.log, async (req, res, params, url) => {
      const disconnected = new AbortController();
      res.once('close', () => disconnected.abort());
      const streams = url.searchParams.get('streams');
      await streamWorkflowSse({
        ctx: requestContext(options.createContext, req),
        res,
        kind: options.kind,
        traceId: pathParam(params, 'traceId'),
        token: url.searchParams.get('token') ?? undefined,
        streams: options.streams ?? (streams === null ? undefined : streams.split(',')),
        lastEventId: header(req, 'last-event-id') ?? url.searchParams.get('lastEventId') ?? undefined,
        from: url.searchParams.get('from') ?? undefined,
        heartbeatMs: options.heartbeatMs,
        signal: disconnected.signal,
      });
    }),
  };
}

/** Answers that are not procedure errors: the request never reached one. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The body as JSON: 415 unless it is declared JSON, 413 past `maxBytes`, 400 when it does not parse. */
export function readJsonBody(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType !== 'application/json' && !mediaType.endsWith('+json')) {
    return Promise.reject(
      new HttpError(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'Send the body as JSON, with Content-Type: application/json',
      ),
    );
  }
  const tooLarge = () =>
    new HttpError(413, 'PAYLOAD_TOO_LARGE', `The body must be at most ${maxBytes} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      cleanup();
      discardRest(req, maxBytes);
      reject(tooLarge());
    };
    const onEnd = () => {
      cleanup();
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'PARSE_ERROR', 'The body is not valid JSON'));
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * Reads and drops what is left of a rejected body, so that the client, still
 * sending, gets to read the 413; past `limit` more bytes the connection is cut.
 */
function discardRest(req: http.IncomingMessage, limit: number): void {
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limit) req.socket.destroy();
  });
}

export function sendFailure(res: http.ServerResponse, error: unknown, log: Logger): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (error instanceof HttpError) {
    sendJson(
      res,
      error.status,
      { error: { code: error.code, message: error.message } },
      closeIfUnread(error),
    );
    return;
  }
  const trpcError =
    error instanceof TRPCError ? error : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: error });
  const status = getHTTPStatusCodeFromError(trpcError);
  if (trpcError.code === 'INTERNAL_SERVER_ERROR') {
    log.error({ err: trpcError.cause ?? trpcError }, '❌ REST request failed');
    sendError(res, status, trpcError.code, 'Internal server error');
    return;
  }
  if (trpcError.code === 'BAD_REQUEST' && trpcError.cause instanceof z.ZodError) {
    const { formErrors, fieldErrors } = z.flattenError(trpcError.cause);
    sendJson(res, status, {
      error: {
        code: trpcError.code,
        message: describeInvalidInput(formErrors, fieldErrors),
        fieldErrors,
        formErrors,
      },
    });
    return;
  }
  const retryAfter =
    trpcError.cause instanceof RetryLater
      ? { 'retry-after': String(Math.ceil(trpcError.cause.retryAfterMs / 1000)) }
      : {};
  sendJson(res, status, { error: { code: trpcError.code, message: trpcError.message } }, retryAfter);
}

/** `Invalid input: name: must not be empty; species: Invalid option: ...`, naming every field. */
function describeInvalidInput(
  formErrors: readonly string[],
  fieldErrors: Record<string, string[] | undefined>,
): string {
  const parts = [
    ...formErrors,
    ...Object.entries(fieldErrors).map(([field, messages]) => `${field}: ${(messages ?? []).join(', ')}`),
  ];
  return `Invalid input: ${parts.join('; ')}`;
}

const closeIfUnread = (error: HttpError): http.OutgoingHttpHeaders =>
  error.status === 413 ? { connection: 'close' } : {};

export function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function pathParam(params: Readonly<Record<string, string>>, name: string): string {
  try {
    return decodeURIComponent(params[name] ?? '');
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', `The ${name} in the path is not valid percent-encoding`);
  }
}
