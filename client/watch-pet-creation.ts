import type { TRPCClient } from '@trpc/client';

import type { AppRouter } from '../server/router/app-router.js';
import type { PetCreationEvent } from '../shared/pet-creation.js';
import { createDeferred, type Deferred } from '../shared/deferred.js';

export type WatchOptions = {
  readonly signal?: AbortSignal;
  /** Resume after this event id (the last one you saw). */
  readonly lastEventId?: string | null;
};

/**
 * Bridges the tRPC subscription to an async iterable. Reconnects are the
 * link's: it resubscribes with the id of the last event delivered, so the
 * sequence has no gap and no duplicate.
 */
export async function* watchPetCreation(
  trpc: TRPCClient<AppRouter>,
  traceId: string,
  token: string,
  options: WatchOptions = {},
): AsyncGenerator<PetCreationEvent> {
  const queue: PetCreationEvent[] = [];
  let wake: Deferred<void> = createDeferred<void>();
  let done = false;
  let failure: unknown;

  const subscription = trpc.petCreation.onUpdate.subscribe(
    { traceId, token, lastEventId: options.lastEventId ?? null },
    {
      signal: options.signal,
      onData: (envelope) => {
        queue.push(envelope.data);
        wake.resolve();
      },
      onError: (error) => {
        failure = error;
        done = true;
        wake.resolve();
      },
      onComplete: () => {
        done = true;
        wake.resolve();
      },
      onStopped: () => {
        done = true;
        wake.resolve();
      },
    },
  );
  try {
    for (;;) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (failure) throw failure;
      if (done) return;
      await wake.promise;
      wake = createDeferred<void>();
    }
  } finally {
    subscription.unsubscribe();
  }
}
