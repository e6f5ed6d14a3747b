import type { z } from 'zod';

import type { BusMessage } from '../bus/topics.js';
import { assertName } from '../names.js';
import type { Stream } from '../streams/define-stream.js';
import type { Waits } from './waits.js';

/** The longest a wait may last: a year. */
export const MAX_WAIT_MS = 31_536_000_000;

/** How a wait ended, as `waitFor` returns it. */
export type WaitResult<TInput> =
  | {
      readonly status: 'received';
      readonly input: TInput;
      /** Who gave it, as the procedure that delivered it said. */
      readonly by: string;
      readonly at: string;
    }
  | { readonly status: 'timedOut'; readonly at: string };

/** What `waitFor` takes beside the name and the input's schema. */
export type WaitOptions<TAnnounce> = {
  /** Unanswered this long (ms, 1 to a year), the wait times out. */
  readonly timeoutMs: number;
  /** Who is expected to answer ("vet", "staff"), for watchers and the trace. */
  readonly awaitedBy: string;
  /** The event that tells watchers what is awaited: written once the wait is open, so an answer to it is accepted. */
  readonly announce: TAnnounce;
};

/** The step attempt ended in a wait: not a failure; the step runs again when the wait ends. */
export class StepSuspended extends Error {
  override readonly name = 'StepSuspended';
}

/** The wait was cancelled with its workflow. */
export class WaitCancelled extends Error {
  override readonly name = 'WaitCancelled';
}

/** What one step run's `waitFor` is made from. */
export type WaitForContext = {
  readonly waits: Waits;
  readonly flow: string;
  readonly step: string;
  readonly message: BusMessage;
  /** The step's streams, writes keyed for this run (so the announcement is written once across runs). */
  readonly streams: Readonly<Record<string, Stream<unknown>>>;
  readonly signal: AbortSignal;
};

type AnyAnnounce = { readonly stream: string; readonly itemId: string; readonly data: unknown };

/**
 * `ctx.waitFor` of one step run. The first time, it opens the wait,
 * announces it and ends the attempt (StepSuspended); when the wait ends,
 * the step runs again from its start, repeating its writes (which are
 * idempotent), and `waitFor` returns the input, or that it timed out.
 */
export function createWaitFor(context: WaitForContext) {
  const { waits, flow, step, message, streams, signal } = context;
  return async function waitFor<TSchema extends z.ZodType>(
    name: string,
    schema: TSchema,
    options: WaitOptions<AnyAnnounce>,
  ): Promise<WaitResult<z.output<TSchema>>> {
    assertName('wait name', name);
    const { timeoutMs, awaitedBy, announce } = options;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_WAIT_MS) {
      throw new TypeError(
        `Expected \`timeoutMs\` to be an integer from 1 to ${MAX_WAIT_MS}, got \`${timeoutMs}\``,
      );
    }
    const stream = streams[announce.stream];
    if (!stream)
      throw new TypeError(
        `Step \`${step}\` announces wait \`${name}\` on stream \`${announce.stream}\`, which it does not write`,
      );
    signal.throwIfAborted();
    const now = Date.now();
    const wait = await waits.open({
      traceId: message.traceId,
      name,
      flow,
      step,
      message,
      awaitedBy,
      openedAt: new Date(now).toISOString(),
      deadline: new Date(now + timeoutMs).toISOString(),
    });
    await stream.set(message.traceId, announce.itemId, announce.data);
    const at = wait.settledAt ?? new Date().toISOString();
    switch (wait.status) {
      case 'waiting':
        throw new StepSuspended(`waiting for ${name} from ${awaitedBy}`);
      case 'received':
        return { status: 'received', input: schema.parse(wait.input), by: wait.by ?? awaitedBy, at };
      case 'timedOut':
        return { status: 'timedOut', at };
      case 'cancelled':
        throw new WaitCancelled(`${name} was cancelled with its workflow`);
    }
  };
}
