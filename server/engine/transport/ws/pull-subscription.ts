/**
 * A subscription whose procedure returned an async iterable (or a legacy
 * observable): pulled one value at a time, as tRPC's adapter does, until it
 * ends, fails or is stopped, then returned (its `finally` runs).
 */
import { getTRPCErrorFromUnknown, isTrackedEnvelope, type TRPCError } from '@trpc/server';
import { isObservable, observableToAsyncIterable, type Observable } from '@trpc/server/observable';

import type { Call } from './call.js';
import { isAbortError } from './errors.js';
import { replyHead } from './frames.js';

type Next = IteratorResult<unknown> | TRPCError | 'abort';

export async function pullSubscription(
  call: Call,
  result: AsyncIterable<unknown> | Observable<unknown, unknown>,
): Promise<void> {
  const { scope, signal } = call;
  if (!scope.open) {
    call.abort();
    if (isObservable(result)) return;
  }
  const iterable = isObservable(result) ? observableToAsyncIterable(result, signal) : result;
  if (signal.aborted || !scope.open) {
    call.abort();
    // Never started: returned at once, so that what it holds is freed.
    try {
      await iterable[Symbol.asyncIterator]().return?.();
    } catch (cause) {
      call.reportError(cause);
    }
    return;
  }
  call.respond({ type: 'started' });

  const head = replyHead(call.request.id, call.request.jsonrpc);
  let iterator: AsyncIterator<unknown> | undefined;
  let completed = false;
  let failure: { readonly cause: unknown } | null = null;
  let wake: ((next: 'abort') => void) | undefined;
  const onAbort = () => wake?.('abort');
  signal.addEventListener('abort', onAbort);
  try {
    iterator = iterable[Symbol.asyncIterator]();
    for (;;) {
      const pending = nextUnlessStopped(iterator, call);
      // Once stopped, the loop stops waiting for the iterator.
      const next = await new Promise<Next>((resolve) => {
        wake = resolve;
        if (signal.aborted) resolve('abort');
        void pending.then(resolve);
      });
      if (next === 'abort') break;
      if (next instanceof Error) throw next;
      if (next.done) {
        completed = true;
        break;
      }
      const { value } = next;
      scope.send(
        isTrackedEnvelope(value)
          ? scope.frames.dataFrame(head, value[1], value[0])
          : scope.frames.dataFrame(head, value, undefined),
      );
    }
  } catch (cause) {
    failure = { cause };
  } finally {
    wake = undefined;
    signal.removeEventListener('abort', onAbort);
  }

  // Released in the adapter's order: the signal first (unless the iterable completed), then the iterator.
  if (!completed) call.abort();
  let disposal: { readonly cause: unknown } | null = null;
  try {
    await iterator?.return?.();
  } catch (cause) {
    disposal = { cause };
  }
  if (failure === null && disposal === null) return;
  call.abort();
  if (failure === null) {
    if (disposal) call.reportError(disposal.cause);
    return;
  }
  call.respondWithError(failure.cause);
  if (disposal) call.reportError(disposal.cause);
}

/**
 * The iterator's next value, or its failure as a TRPCError. A failure after
 * the stop, such as a `finally` that throws, is only reported (an
 * AbortError is how a stopped iterable is expected to end).
 */
function nextUnlessStopped(iterator: AsyncIterator<unknown>, call: Call): Promise<Next> {
  return iterator.next().catch((cause: unknown) => {
    const error = getTRPCErrorFromUnknown(cause);
    if (!call.signal.aborted) return error;
    if (!isAbortError(error.cause)) call.reportError(error);
    return 'abort' as const;
  });
}
