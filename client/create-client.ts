/**
 * The typed client: WebSocket for subscriptions, batched HTTP for the rest,
 * superjson on both. It imports the router's type only, and nothing
 * Node-specific, so it runs in browsers too.
 */
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  splitLink,
  wsLink,
} from '@trpc/client';

import type { AppRouter } from '../server/router/app-router.js';
import { transformer } from '../shared/transformer.js';
import { watchPetCreation, type WatchOptions } from './watch-pet-creation.js';

export type PetClientOptions = {
  /** The server's base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  /** The WebSocket class; the global one when absent (pass `ws`'s on Node 20). */
  readonly WebSocket?: typeof globalThis.WebSocket;
  /** Reconnect delay after the n-th failed attempt. @default exponential backoff with jitter, up to 10 s */
  readonly retryDelayMs?: (attempt: number) => number;
};

export type PetClient = ReturnType<typeof createPetClient>;

export function createPetClient(options: PetClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  const wsClient = createWSClient({
    url: `${base.replace(/^http/, 'ws')}/trpc`,
    WebSocket: options.WebSocket,
    retryDelayMs: options.retryDelayMs ?? backoffWithJitter,
  });
  const trpc = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: wsLink({ client: wsClient, transformer }),
        false: httpBatchLink({ url: `${base}/trpc`, transformer }),
      }),
    ],
  });
  return {
    /** The whole typed tRPC client. */
    trpc,
    pets: trpc.pets,
    petCreation: trpc.petCreation,
    /** The live events of one workflow, as an async iterable that ends when the workflow finishes. */
    watchPetCreation: (traceId: string, token: string, watch: WatchOptions = {}) =>
      watchPetCreation(trpc, traceId, token, watch),
    /** WebSocket connection state: `connecting`, `pending` (open) or `idle`. */
    connectionState: wsClient.connectionState,
    close: () => wsClient.close(),
  };
}

export function backoffWithJitter(attempt: number): number {
  const ceiling = Math.min(10_000, 250 * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export type { AppRouter };
