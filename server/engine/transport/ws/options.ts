import type { IncomingMessage } from 'node:http';

import type { WebSocket } from 'ws';

import type {
  AnyTRPCRouter,
  inferRouterContext,
  TRPCCombinedDataTransformer,
  TRPCDataTransformer,
  TRPCError,
  TRPCErrorFormatter,
  TRPCErrorShape,
  TRPCProcedureType,
} from '@trpc/server';
import type { CreateWSSContextFnOptions } from '@trpc/server/adapters/ws';
import type { TRPCRequestInfo } from '@trpc/server/http';

import { JSON_MAX_DEPTH } from '../../security/json-guard.js';
import type { WsAdmit } from './upgrade.js';

/** What `initTRPC.create({ transformer })` takes: one transformer, or one per direction. */
export type WsTransformer = TRPCDataTransformer | TRPCCombinedDataTransformer;

/** String values a client sent in its connection params message; null when it sent none. */
export type WsConnectionParams = TRPCRequestInfo['connectionParams'];

/** What `onError` is told: the same fields as tRPC's adapters give. */
export type WsErrorInfo<TContext> = {
  readonly error: TRPCError;
  readonly type: TRPCProcedureType | 'unknown';
  /** The procedure, when the error belongs to a call. */
  readonly path: string | undefined;
  readonly input: unknown;
  /** Undefined until the connection's context exists (or when making it failed). */
  readonly ctx: TContext | undefined;
  readonly req: IncomingMessage;
};

export type WsProtocolServerOptions<TRouter extends AnyTRPCRouter> = {
  /** The router to serve; every procedure of it is reachable. */
  readonly router: TRouter;
  /**
   * The transformer given to `initTRPC.create()`; inputs are deserialized
   * and results serialized with it. Default: none (plain JSON).
   */
  readonly transformer?: WsTransformer;
  /** The error formatter given to `initTRPC.create()`. Default: the shape as it is. */
  readonly errorFormatter?: TRPCErrorFormatter<inferRouterContext<TRouter>, TRPCErrorShape>;
  /**
   * Whether error shapes carry the stack trace (tRPC's `isDev`). Default:
   * false, whatever NODE_ENV says.
   */
  readonly isDev?: boolean;
  /**
   * Makes the context of a connection, once: at connection, or when its
   * connection params arrive (`?connectionParams=1`). Throwing refuses the
   * connection: the client gets the error (`id: null`), then the socket closes.
   */
  readonly createContext?: (
    opts: CreateWSSContextFnOptions,
  ) => inferRouterContext<TRouter> | Promise<inferRouterContext<TRouter>>;
  /**
   * Checks a connection before its context is made, with its connection
   * params (null when the client sent none), e.g. its API key. Throw (a
   * TRPCError, such as UNAUTHORIZED) to refuse it, as `createContext` does.
   */
  readonly authorizeConnection?: (info: {
    readonly req: IncomingMessage;
    readonly connectionParams: WsConnectionParams;
  }) => void | Promise<void>;
  /** Told of every error sent to a client, and of failures that could not be sent. */
  readonly onError?: (info: WsErrorInfo<inferRouterContext<TRouter>>) => void;
  /**
   * Decides on each upgrade request before the handshake (Origin, API key
   * header, connection caps): return null to admit, or `{ status }` to
   * refuse with that HTTP status. Default: admit everything.
   */
  readonly admit?: WsAdmit;
  /** Largest accepted frame in bytes; a larger one closes the connection with 1009. Default 1 MiB. */
  readonly maxPayloadBytes?: number;
  /** Most messages in one batch (an array frame); more are refused with BAD_REQUEST. Default: no limit. */
  readonly maxBatchSize?: number;
  /** JSON nesting deeper than this is refused (PARSE_ERROR) before parsing. Default 64. */
  readonly maxJsonDepth?: number;
  /** Subscriptions one connection may run at once; one more gets TOO_MANY_REQUESTS. Default 100. */
  readonly maxSubscriptionsPerConnection?: number;
  /** Unsent bytes a connection may hold before it counts as slow. Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /**
   * How long a connection may stay above `maxBufferedBytes` before it is
   * closed with 4008 "slow consumer" (at once past 4× the bound). Default 2000.
   */
  readonly slowConsumerMs?: number;
  /** Told of every connection once its handshake is made (metrics). */
  readonly onConnection?: (client: WebSocket, req: IncomingMessage) => void;
  /** Told when a connection is closed as a slow consumer. */
  readonly onSlowConsumer?: (info: {
    readonly req: IncomingMessage;
    readonly bufferedAmount: number;
  }) => void;
  /**
   * Interval of protocol-level pings; a connection that did not answer the
   * previous one is dropped. 0 disables. Default 30000.
   */
  readonly pingMs?: number;
  /**
   * A client that announced connection params must send them within this
   * time, or the connection is closed (1008). Default 10000.
   */
  readonly connectionParamsTimeoutMs?: number;
};

/** The options with every default filled in and every value checked. */
export type ResolvedWsOptions<TRouter extends AnyTRPCRouter> = Required<
  Pick<
    WsProtocolServerOptions<TRouter>,
    | 'maxPayloadBytes'
    | 'maxJsonDepth'
    | 'maxSubscriptionsPerConnection'
    | 'maxBufferedBytes'
    | 'slowConsumerMs'
    | 'pingMs'
    | 'connectionParamsTimeoutMs'
    | 'isDev'
  >
> &
  Omit<
    WsProtocolServerOptions<TRouter>,
    | 'maxPayloadBytes'
    | 'maxJsonDepth'
    | 'maxSubscriptionsPerConnection'
    | 'maxBufferedBytes'
    | 'slowConsumerMs'
    | 'pingMs'
    | 'connectionParamsTimeoutMs'
    | 'isDev'
  >;

const DEFAULTS = {
  maxPayloadBytes: 1_048_576,
  maxJsonDepth: JSON_MAX_DEPTH,
  maxSubscriptionsPerConnection: 100,
  maxBufferedBytes: 1_048_576,
  slowConsumerMs: 2000,
  pingMs: 30_000,
  connectionParamsTimeoutMs: 10_000,
  isDev: false,
} as const;

/** Fills in the defaults; a bad option throws a TypeError naming it. */
export function resolveOptions<TRouter extends AnyTRPCRouter>(
  options: WsProtocolServerOptions<TRouter>,
): ResolvedWsOptions<TRouter> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected options to be an object, got \`${String(options)}\``);
  }
  const { router, transformer } = options;
  if ((typeof router !== 'object' && typeof router !== 'function') || router === null) {
    throw new TypeError(`Expected \`router\` to be a tRPC router, got \`${String(router)}\``);
  }
  if (transformer !== undefined && !isTransformer(transformer)) {
    throw new TypeError(
      'Expected `transformer` to have `serialize` and `deserialize` functions, or `input` and `output` transformers',
    );
  }
  for (const hook of [
    'errorFormatter',
    'createContext',
    'authorizeConnection',
    'onError',
    'admit',
    'onSlowConsumer',
    'onConnection',
  ] as const) {
    const value: unknown = options[hook];
    if (value !== undefined && typeof value !== 'function') {
      throw new TypeError(`Expected \`${hook}\` to be a function, got \`${typeof value}\``);
    }
  }
  if (options.isDev !== undefined && typeof options.isDev !== 'boolean') {
    throw new TypeError(`Expected \`isDev\` to be a boolean, got \`${typeof options.isDev}\``);
  }
  if (options.maxBatchSize !== undefined) integer('maxBatchSize', options.maxBatchSize, 1);
  return {
    ...options,
    maxPayloadBytes: integer('maxPayloadBytes', options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes, 1),
    maxJsonDepth: integer('maxJsonDepth', options.maxJsonDepth ?? DEFAULTS.maxJsonDepth, 1),
    maxSubscriptionsPerConnection: integer(
      'maxSubscriptionsPerConnection',
      options.maxSubscriptionsPerConnection ?? DEFAULTS.maxSubscriptionsPerConnection,
      1,
    ),
    maxBufferedBytes: integer('maxBufferedBytes', options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes, 1),
    slowConsumerMs: integer('slowConsumerMs', options.slowConsumerMs ?? DEFAULTS.slowConsumerMs, 0),
    pingMs: integer('pingMs', options.pingMs ?? DEFAULTS.pingMs, 0),
    connectionParamsTimeoutMs: integer(
      'connectionParamsTimeoutMs',
      options.connectionParamsTimeoutMs ?? DEFAULTS.connectionParamsTimeoutMs,
      1,
    ),
    isDev: options.isDev ?? DEFAULTS.isDev,
  };
}

function integer(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`Expected \`${name}\` to be an integer >= ${min}, got \`${String(value)}\``);
  }
  return value;
}

function isTransformer(value: unknown): value is WsTransformer {
  if (!isObjectLike(value)) return false;
  if ('input' in value || 'output' in value) {
    const { input, output } = value as { readonly input?: unknown; readonly output?: unknown };
    return isDataTransformer(input) && isDataTransformer(output);
  }
  return isDataTransformer(value);
}

function isDataTransformer(value: unknown): value is TRPCDataTransformer {
  if (!isObjectLike(value)) return false;
  const { serialize, deserialize } = value as {
    readonly serialize?: unknown;
    readonly deserialize?: unknown;
  };
  return typeof serialize === 'function' && typeof deserialize === 'function';
}

/** An object, or a class with static methods (superjson's default export is one). */
function isObjectLike(value: unknown): value is object {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}
