/**
 * A subscription whose procedure returned a Pushable: the source calls the
 * sink, and each event is written at once as a tracked data frame. Its text
 * is made once per event object (FrameEncoder): the part after the request
 * id is shared by every subscriber that gets the event, the whole text by
 * those whose request has the same id. The frames are the ones the pull
 * path sends for the same tracked events.
 */
import { PUSH, type Pushable, type PushSink } from '../../subscriptions/push.js';
import type { Call } from './call.js';
import { replyHead } from './frames.js';

type Outcome = { readonly failed: false } | { readonly failed: true; readonly cause: unknown };

const ENDED: Outcome = { failed: false };

export async function pushSubscription(call: Call, source: Pushable<unknown>): Promise<void> {
  if (call.signal.aborted || !call.scope.open) {
    // Never started; a source that holds anything already lets it go on the abort.
    call.abort();
    return;
  }
  call.respond({ type: 'started' });
  const outcome = await deliver(call, source);
  if (outcome.failed) {
    call.abort();
    call.respondWithError(outcome.cause);
  }
}

/** Resolves when the source ends, fails, or the call is stopped (the source is then stopped). */
function deliver(call: Call, source: Pushable<unknown>): Promise<Outcome> {
  return new Promise((resolve) => {
    const { scope, signal } = call;
    const { frames } = scope;
    const head = replyHead(call.request.id, call.request.jsonrpc);
    let done = false;
    let stopWhenStarted = false;
    // Until the source has started, stopping it means stopping it as soon as it has.
    let stop = () => {
      stopWhenStarted = true;
    };

    const finish = (outcome: Outcome, stopSource: boolean) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (stopSource) stop();
      resolve(outcome);
    };
    const onAbort = () => finish(ENDED, true);

    const sink: PushSink<unknown> = {
      event: (eventId, value) => {
        if (done) return;
        let frame: string;
        try {
          frame = frames.dataFrame(head, value, eventId);
        } catch (cause) {
          // An event that cannot be serialized ends the subscription, as on the pull path.
          finish({ failed: true, cause }, true);
          return;
        }
        scope.send(frame);
      },
      end: (error) => finish(error === undefined ? ENDED : { failed: true, cause: error }, false),
    };

    signal.addEventListener('abort', onAbort);
    let started: unknown;
    try {
      started = source[PUSH](sink);
    } catch (cause) {
      finish({ failed: true, cause }, false);
      return;
    }
    if (typeof started !== 'function') {
      finish({ failed: true, cause: new TypeError('A Pushable must return its stop function') }, false);
      return;
    }
    stop = started as () => void;
    if (stopWhenStarted) stop();
  });
}
