/** A tRPC client on one eager WebSocket (@trpc/client wsLink + superjson), open when this resolves. */
import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';

import { transformer } from '../../../shared/transformer.js';
import { NodeWebSocket } from '../../support/test-app.js';

export async function openTrpcWsClient<TRouter extends AnyRouter>(
  wsUrl: string,
): Promise<{ readonly trpc: TRPCClient<TRouter>; readonly close: () => void }> {
  let opened: () => void = () => {};
  let failed: (error: unknown) => void = () => {};
  const open = new Promise<void>((resolve, reject) => {
    opened = resolve;
    failed = reject;
  });
  const wsClient = createWSClient({
    url: wsUrl,
    WebSocket: NodeWebSocket,
    onOpen: () => opened(),
    onError: (event) => failed(new Error(`WebSocket error: ${String(event?.type ?? 'unknown')}`)),
  });
  const trpc = createTRPCClient<TRouter>({ links: [wsLink<TRouter>({ client: wsClient, transformer })] });
  await open;
  return { trpc, close: () => void wsClient.close() };
}
