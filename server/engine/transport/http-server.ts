import http from 'node:http';

import {
  getErrorShape,
  transformTRPCResponse,
  TRPCError,
  type AnyTRPCRouter,
  type TRPCErrorShape,
} from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';

import type { Context, RequestScope } from './context.js';
import { RetryLater } from '../errors.js';
import type { Logger } from '../log.js';
import { serverTransformer } from '../../../shared/transformer.js';
import { errorFormatter } from './trpc.js';
import { rootConfig } from './ws/root-config.js';
import { callerFromRequest } from '../security/caller.js';
import { limitConnections, type ConnectionLimitsOptions } from '../security/connection-limits.js';
import { inspectJson, UntrustedJsonError } from '../security/json-guard.js';
import { ResponseBudget } from '../security/response-budget.js';
import { matchRoute, sendError, sendJson, type HttpRoute } from './http-routes.js';

export type HttpServerOptions = {
  readonly router: AnyTRPCRouter;
  readonly createContext: (scope?: RequestScope) => Context;
  /** Largest accepted request body in bytes; larger ones get 413. */
  readonly maxBodyBytes: number;
  /** Plain routes beside tRPC. */
  readonly routes: readonly HttpRoute[];
  /** Where unexpected failures are logged (their details never reach the client). */
  readonly log?: Logger;
  /** Open connections in total and per client, every transport counted. @default no caps */
  readonly connections?: ConnectionLimitsOptions;
  /** How long clients may take to send a request, and idle keep-alive connections are held. */
  readonly timeouts?: HttpTimeouts;
  /** Bytes the answers of one request (a whole batch) may take together. @default no per-request bound */
  readonly maxResponseBytes?: number;
};

export type HttpTimeouts = {
  /** Time to send the request's headers; then the connection is closed. @default 10_000 */
  readonly headersMs: number;
  /** Time to send the whole request; then 408 and closed. At least `headersMs`. @default 30_000 */
  readonly requestMs: number;
  /** Idle time between requests on a keep-alive connection. @default 5000 */
  readonly keepAliveMs: number;
};

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5000,
};

export const TRPC_PATH = '/trpc';

const TRPC_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST']);

/**
 * Calls in one HTTP batch at most (a WebSocket frame may also carry one
 * subscription per subscription a connection may hold); a longer batch is
 * refused whole. The typed client sends at most this many per HTTP batch.
 */
export const MAX_BATCH_SIZE = 50;

type BodyCheck =
  | { readonly ok: true; readonly body: string | undefined }
  | { readonly ok: false; readonly error: TRPCError }
  | { readonly ok: false; readonly error: null };

type BodyRead = { readonly text: string } | 'too-large' | 'aborted';

/** One HTTP server: tRPC (queries, mutations, SSE subscriptions) under /trpc, plus plain routes. */
export function createHttpServer(options: HttpServerOptions): http.Server {
  const { maxResponseBytes } = options;
  const trpc = createHTTPHandler({
    router: options.router,
    // One context per request: the calls of a batch share its response budget.
    createContext: ({ req }) =>
      options.createContext({
        caller: callerFromRequest(req, 'http'),
        subscriptions: null,
        responseBudget: maxResponseBytes === undefined ? null : new ResponseBudget(maxResponseBytes),
      }),
    basePath: `${TRPC_PATH}/`,
    maxBodySize: options.maxBodyBytes,
    maxBatchSize: MAX_BATCH_SIZE,
    responseMeta: ({ errors }) => {
      const waits = errors.flatMap((error) =>
        error.cause instanceof RetryLater ? [error.cause.retryAfterMs] : [],
      );
      return waits.length > 0
        ? { headers: { 'retry-after': String(Math.ceil(Math.max(...waits) / 1000)) } }
        : {};
    },
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR')
        options.log?.error({ err: error.cause ?? error, path }, '❌ Request failed');
    },
  });

  const serveTrpc = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const checked = await checkTrpcRequest(req, url, options.maxBodyBytes);
    if (!checked.ok) {
      // null: the client went away mid-upload, nobody to answer.
      if (checked.error) {
        const path = url.pathname.slice(TRPC_PATH.length + 1);
        sendTrpcError(res, checked.error, {
          // A batch refused whole has no one procedure to name.
          path: path.includes(',') ? '' : path,
          // A refused upload may still be arriving: the rest is not read.
          close: !req.complete,
        });
      }
      return;
    }
    // The adapter takes a body that was read already as it is.
    if (checked.body !== undefined) Object.assign(req, { body: checked.body });
    trpc(req, res);
  };

  const timeouts = options.timeouts ?? DEFAULT_HTTP_TIMEOUTS;
  const server = http.createServer({
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    // Node checks both timeouts on this interval (30 s by default): often enough to honour them.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(timeouts.headersMs / 2))),
  });
  server.keepAliveTimeout = timeouts.keepAliveMs;
  // Wraps Node's own connection listener: a refused connection reaches no listener added before this.
  if (options.connections) limitConnections(server, options.connections);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith(`${TRPC_PATH}/`)) {
      serveTrpc(req, res, url).catch((error: unknown) => failed(res, error, options.log));
      return;
    }
    const match = matchRoute(options.routes, req.method ?? 'GET', url.pathname);
    if (match === null) {
      sendError(res, 404, 'NOT_FOUND', `No route for ${req.method} ${url.pathname}`);
      return;
    }
    if (match === 'methodMismatch') {
      sendError(res, 405, 'METHOD_NOT_SUPPORTED', `${req.method} is not allowed on ${url.pathname}`);
      return;
    }
    // Through a promise, so that a handler that throws synchronously is caught too.
    Promise.resolve()
      .then(() => match.route.handle(req, res, match.params, url))
      .catch((error: unknown) => failed(res, error, options.log));
  });
  return server;
}

/** Unexpected failure: logged here, a bare 500 for the client. */
function failed(res: http.ServerResponse, error: unknown, log: Logger | undefined): void {
  log?.error({ err: error }, '❌ Request failed');
  if (!res.headersSent) sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
  else res.destroy();
}

/**
 * Reads the body (bounded) and refuses JSON input that nests too deep or
 * carries prototype-pollution keys, before the transformer could drop such
 * keys silently. Query inputs (GET, SSE) are in the URL.
 */
async function checkTrpcRequest(
  req: http.IncomingMessage,
  url: URL,
  maxBodyBytes: number,
): Promise<BodyCheck> {
  // Queries and subscriptions are GETs, mutations POSTs; nothing else reaches a procedure.
  if (!TRPC_METHODS.has(req.method ?? '')) {
    return {
      ok: false,
      error: new TRPCError({
        code: 'METHOD_NOT_SUPPORTED',
        message: `${req.method} is not supported here: use GET or POST`,
      }),
    };
  }
  const calls = url.searchParams.get('batch') === '1' ? url.pathname.split(',').length : 1;
  if (calls > MAX_BATCH_SIZE) {
    return {
      ok: false,
      error: new TRPCError({
        code: 'BAD_REQUEST',
        message: `A batch may hold at most ${MAX_BATCH_SIZE} calls; this one has ${calls}`,
      }),
    };
  }
  const input = url.searchParams.get('input');
  if (input !== null) {
    const error = inspect(input);
    if (error) return { ok: false, error };
  }
  if (req.method === 'GET' || req.method === 'HEAD') return { ok: true, body: undefined };
  // tRPC would also take multipart and octet-stream bodies, which no procedure here reads.
  if (mediaType(req) !== 'application/json') {
    return {
      ok: false,
      error: new TRPCError({
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'Send the body as JSON, with Content-Type: application/json',
      }),
    };
  }
  const body = await readBody(req, maxBodyBytes);
  if (body === 'aborted') return { ok: false, error: null };
  if (body === 'too-large') {
    return {
      ok: false,
      error: new TRPCError({
        code: 'PAYLOAD_TOO_LARGE',
        message: `The request body is larger than ${maxBodyBytes} bytes`,
      }),
    };
  }
  const error = inspect(body.text);
  return error ? { ok: false, error } : { ok: true, body: body.text };
}

function mediaType(req: http.IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function inspect(json: string): TRPCError | null {
  try {
    inspectJson(json);
    return null;
  } catch (cause) {
    if (cause instanceof UntrustedJsonError)
      return new TRPCError({ code: 'BAD_REQUEST', message: cause.message, cause });
    throw cause;
  }
}

/** The body as text; reading stops as soon as it grows past `maxBytes`. */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (result: BodyRead) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        req.pause();
        settle('too-large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle({ text: Buffer.concat(chunks).toString('utf8') });
    const onClose = () => settle('aborted');
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}

/** The config of the engine's one tRPC instance, as tRPC's public helpers read it. */
const config = rootConfig({ transformer: serverTransformer, errorFormatter, isDev: false });

/** A refusal in tRPC's own error shape, through the engine's error formatter. */
function sendTrpcError(
  res: http.ServerResponse,
  error: TRPCError,
  options: { readonly path: string; readonly close: boolean },
): void {
  const path = options.path || undefined;
  const shape = getErrorShape({
    config,
    error,
    type: 'unknown',
    path,
    input: undefined,
    ctx: undefined,
  }) as TRPCErrorShape;
  const body: unknown = transformTRPCResponse(config, { error: shape });
  sendJson(res, getHTTPStatusCodeFromError(error), body, options.close ? { connection: 'close' } : {});
  if (options.close) res.once('finish', () => res.req.destroy());
}
