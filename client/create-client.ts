/**
 * The typed client: subscriptions over WebSocket or SSE (tRPC's HTTP
 * subscription link), batched HTTP for the rest, superjson on both. It
 * imports the router's type only, and nothing Node-specific: the WebSocket
 * and EventSource classes are options, so it runs in browsers and in Node.
 */
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  wsLink,
  type TRPCLink,
} from '@trpc/client';

import type { AppRouter } from '../server/app/pet-shelter/app-router.js';
import type { ShelterWorkflowStreams } from '../server/app/pet-shelter/workflow-streams.js';
import type { StreamEventOf } from '../server/engine/index.js';
import { transformer } from '../shared/transformer.js';
import { backoffWithJitter } from './backoff.js';
import { PetCreationWatch } from './watch-pet-creation.js';
import { WorkflowWatch, type WatchOptions, type WatchTransport } from './workflow-watch.js';

/** The workflow kinds a client can watch. */
export type WorkflowKind = Extract<keyof ShelterWorkflowStreams, string>;
/** The stream names of one kind. */
export type StreamName<K extends WorkflowKind> = keyof ShelterWorkflowStreams[K] & string;
/** An event of kind `K` on one of the streams `S`: a union discriminated by `stream`. */
export type WorkflowEvent<K extends WorkflowKind, S extends StreamName<K> = StreamName<K>> = StreamEventOf<
  ShelterWorkflowStreams[K],
  S
>;

export const TRANSPORTS = ['ws', 'sse'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/**
 * Batch bounds. A batch names every call in its URL (a query adds its input
 * there too), and Node answers a request head over 16 KiB with a bodiless
 * 431; 8,000 characters also pass common proxies. 50 calls at most: no more
 * than the server takes in one request (it refuses a longer batch whole).
 */
const BATCH_MAX_URL_LENGTH = 8000;
const BATCH_MAX_ITEMS = 50;

export type PetClientOptions = {
  /** The server's base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  /** How subscriptions travel: one WebSocket per client, or one SSE response per subscription. @default 'ws' */
  readonly transport?: Transport;
  /** The WebSocket class for `ws`; the global one when absent (pass `ws`'s on Node 20). */
  readonly WebSocket?: typeof globalThis.WebSocket;
  /** The EventSource class for `sse`; the global one when absent (pass the `eventsource` package's on Node). */
  readonly EventSource?: typeof globalThis.EventSource;
  /** Sent with every call (HTTP header, WebSocket connection params), for servers that set API_KEYS. */
  readonly apiKey?: string;
  /** Delay before the n-th reconnect attempt (0-based). @default exponential from 250 ms to 10 s, with jitter */
  readonly retryDelayMs?: (attempt: number) => number;
};

export type PetClient = ReturnType<typeof createPetClient>;

export function createPetClient(options: PetClientOptions) {
  const { base, transport } = validate(options);
  const retryDelayMs = options.retryDelayMs ?? backoffWithJitter;
  const closed = new AbortController();

  const wsClient =
    transport === 'ws'
      ? createWSClient({
          url: `${base.replace(/^http/, 'ws')}/trpc`,
          WebSocket: options.WebSocket,
          retryDelayMs,
          ...(options.apiKey === undefined ? {} : { connectionParams: { apiKey: options.apiKey } }),
          // The socket opens with the first subscription and closes when none is left.
          lazy: { enabled: true, closeMs: 1000 },
        })
      : null;
  const subscriptionLink: TRPCLink<AppRouter> = wsClient
    ? wsLink<AppRouter>({ client: wsClient, transformer })
    : httpSubscriptionLink<AppRouter, typeof globalThis.EventSource>({
        url: `${base}/trpc`,
        transformer,
        ...(options.EventSource ? { EventSource: options.EventSource } : {}),
      });
  const trpc = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: subscriptionLink,
        false: httpBatchLink({
          url: `${base}/trpc`,
          transformer,
          maxURLLength: BATCH_MAX_URL_LENGTH,
          maxItems: BATCH_MAX_ITEMS,
          ...(options.apiKey === undefined ? {} : { headers: { authorization: `Bearer ${options.apiKey}` } }),
        }),
      }),
    ],
  });

  const reconnection = {
    restartOnDrop: transport === 'sse',
    retryDelayMs,
    closed: closed.signal,
    refreshToken: (input: { readonly traceId: string; readonly token: string }) =>
      trpc.workflows.refreshToken.mutate(input),
  };

  return {
    /** The whole typed tRPC client. */
    trpc,
    pets: trpc.pets,
    petCreation: trpc.petCreation,
    /** Any workflow, by its token: `cancel`, `refreshToken` (a watch refreshes by itself), `onUpdate`. */
    workflows: trpc.workflows,
    transport,
    /**
     * The live events of one workflow, as an async iterable that reconnects
     * by itself, resumes without loss or duplicate, and ends after the
     * workflow's finished event. See `PetCreationWatch`.
     */
    watchPetCreation: (traceId: string, token: string, watch: WatchOptions = {}) =>
      new PetCreationWatch(
        { subscribe: trpc.petCreation.onUpdate.subscribe, ...reconnection },
        traceId,
        token,
        watch,
      ),
    /**
     * Any workflow's events, typed by its kind and the streams asked for
     * (all of the kind's when absent), in the workflow's log order with one
     * cursor across streams; reconnects and resumes like `watchPetCreation`.
     * Only a token of that kind opens it (`workflows.onUpdate`).
     *
     * @example
     * for await (const event of client.watch('petCreation', traceId, token, { streams: ['petProfile'] }))
     *   if (event.stream === 'petProfile') console.log(event.data?.field);
     */
    watch: <K extends WorkflowKind, S extends StreamName<K> = StreamName<K>>(
      kind: K,
      traceId: string,
      token: string,
      watch: WatchOptions & { readonly streams?: readonly S[] } = {},
    ): WorkflowWatch<WorkflowEvent<K, S>> => {
      const { streams, ...options } = watch;
      const subscribe: WatchTransport<WorkflowEvent<K, S>>['subscribe'] = (input, callbacks) =>
        trpc.workflows.onUpdate.subscribe(
          { ...input, kind, ...(streams ? { streams: [...streams] } : {}) },
          {
            ...callbacks,
            // The server checked that the token is of kind K and sends only the streams S.
            onData: (tracked) => callbacks.onData({ data: tracked.data as WorkflowEvent<K, S> }),
          },
        );
      return new WorkflowWatch({ subscribe, ...reconnection }, traceId, token, options);
    },
    /** Ends every watch and closes the WebSocket, if any. */
    close: async (): Promise<void> => {
      closed.abort();
      await wsClient?.close();
    },
  };
}

function validate(options: PetClientOptions): { readonly base: string; readonly transport: Transport } {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new TypeError(`Expected \`url\` to be an http(s) URL, got \`${options.url}\``);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`Expected \`url\` to be an http(s) URL, got \`${options.url}\``);
  }
  const transport = options.transport ?? 'ws';
  if (!TRANSPORTS.includes(transport)) {
    throw new TypeError(
      `Expected \`transport\` to be one of ${TRANSPORTS.join(', ')}, got \`${String(transport)}\``,
    );
  }
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === '')) {
    throw new TypeError('Expected `apiKey` to be a non-empty string');
  }
  if (options.retryDelayMs !== undefined && typeof options.retryDelayMs !== 'function') {
    throw new TypeError('Expected `retryDelayMs` to be a function of the attempt number');
  }
  return { base: options.url.replace(/\/+$/, ''), transport };
}

export { backoffWithJitter } from './backoff.js';
export { PetCreationWatch } from './watch-pet-creation.js';
export { WorkflowWatch } from './workflow-watch.js';
export type { WatchOptions, WatchState, WatchStateChange } from './workflow-watch.js';
export { WatchError, type WatchErrorCode } from './watch-error.js';
export type { AppRouter };
