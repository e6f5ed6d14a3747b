/** @trpc/client wsLink + superjson against the bare tRPC baseline. */
import type { BareRouter } from '../servers/bare-trpc-server.js';
import type { BenchConnection } from './bench-connection.js';
import { openTrpcWsClient } from './trpc-ws-client.js';

export async function connectBareTrpc(url: string): Promise<BenchConnection> {
  const { trpc, close } = await openTrpcWsClient<BareRouter>(`${url.replace(/^http/, 'ws')}/`);
  return {
    subscribe: (group, receive, fail) =>
      new Promise((resolve, reject) => {
        trpc.onUpdate.subscribe(
          { group: group.id },
          {
            onStarted: () => resolve(),
            onData: (envelope) => receive(envelope.data),
            onError: (error) => {
              fail(`subscription failed: ${error.message}`);
              reject(error);
            },
          },
        );
      }),
    close,
  };
}
