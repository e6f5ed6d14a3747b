import type { StoredEvent } from '../streams/storage.js';
import type { FanOutSubscription, WorkflowFanOut } from './fan-out.js';
import { SubscriberOverflow, SubscriptionQueue } from './subscription-queue.js';

export type PullOptions = FanOutSubscription & {
  /** Live events a reader may fall behind by before its queue is dropped and it catches up from storage. */
  readonly bufferLimit: number;
  readonly signal?: AbortSignal | undefined;
};

/**
 * A fan-out subscription as an async iterable, for readers that pull
 * (tRPC's HTTP adapter, in-process callers). The fan-out pushes into a
 * bounded queue; a reader that falls more than `bufferLimit` events behind
 * drops its queue and subscribes again after the last event it took, so a
 * slow reader costs bounded memory and still misses nothing that is kept.
 */
export async function* pullEvents(
  fanOut: WorkflowFanOut,
  groupId: string,
  options: PullOptions,
): AsyncGenerator<StoredEvent, void, undefined> {
  const { bufferLimit, signal, ...subscription } = options;
  let after = subscription.after;
  while (!signal?.aborted) {
    const queue = new SubscriptionQueue<StoredEvent>(bufferLimit, signal);
    const stop = fanOut.subscribe(
      groupId,
      { ...subscription, after },
      {
        // History comes in one burst as long as what is kept: only live events count against the bound.
        event: (event, live) => queue.push(event, live),
        end: (error) => queue.end(error === undefined ? undefined : asError(error)),
      },
    );
    try {
      for await (const event of queue) {
        // A reset carries the point it resumed from (`0` when that point was
        // unknown); an ephemeral event, the point already reached.
        if (event.kind === 'reset') {
          if (event.eventId === '0') after = null;
        } else if (event.kind !== 'ephemeral') after = event.eventId;
        yield event;
      }
      return;
    } catch (error) {
      if (!(error instanceof SubscriberOverflow)) throw error;
      // Fell too far behind: read what was missed from storage.
    } finally {
      stop();
      queue.end();
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
