/** Our router over @trpc/client's wsLink with the product's transformer, one socket per connection. */
import type { AppRouter } from '../../../server/app/pet-shelter/app-router.js';
import { TraceIdSchema } from '../../../shared/trace-id.js';
import type { BenchConnection } from './bench-connection.js';
import { openTrpcWsClient } from './trpc-ws-client.js';

export async function connectOurs(url: string): Promise<BenchConnection> {
  const { trpc, close } = await openTrpcWsClient<AppRouter>(`${url.replace(/^http/, 'ws')}/trpc`);
  return {
    subscribe: (group, receive, fail) =>
      new Promise((resolve, reject) => {
        trpc.petCreation.onUpdate.subscribe(
          { traceId: TraceIdSchema.parse(group.id), token: group.token },
          {
            onStarted: () => resolve(),
            onData: (envelope) => receive(envelope.data.data),
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
