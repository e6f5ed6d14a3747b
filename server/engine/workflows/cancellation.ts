import type { WorkflowLog } from '../streams/workflow-log.js';

/** The reason of an AbortSignal aborted because its workflow was cancelled. */
export class WorkflowCancelled extends Error {
  override readonly name = 'WorkflowCancelled';
  constructor(readonly traceId: string) {
    super(`Workflow ${traceId} was cancelled`);
  }
}

/** One workflow's cancel signal, held until `release`. */
export type CancelHold = {
  /** Aborts, with a WorkflowCancelled reason, once the workflow's `cancelled` event is in its log. */
  readonly signal: AbortSignal;
  /** Stops holding it (safe to call twice). */
  readonly release: () => void;
};

type Watched = {
  readonly controller: AbortController;
  readonly stop: () => void;
  holders: number;
};

export type CancelSignalsOptions = {
  readonly log: WorkflowLog;
  /**
   * Other instances may cancel this one's workflows (shared storage): each
   * held workflow's log is then watched for its `cancelled` event. Alone,
   * `cancelled` (called by the cancel itself) is enough.
   */
  readonly shared: boolean;
};

/**
 * Per-workflow AbortSignals that abort when the workflow is cancelled,
 * whichever instance cancelled it: the cancel aborts them on its own
 * instance at once, and with shared storage every instance watches the
 * logs of the workflows it holds for their `cancelled` event, through the
 * engine's one fan-out, with one subscription per workflow however many
 * attempts (or waits) hold its signal.
 */
export class CancelSignals {
  readonly #options: CancelSignalsOptions;
  readonly #watched = new Map<string, Watched>();

  constructor(options: CancelSignalsOptions) {
    this.#options = options;
  }

  /** The workflow was cancelled (on this instance): its held signals abort. */
  cancelled(traceId: string): void {
    this.#watched.get(traceId)?.controller.abort(new WorkflowCancelled(traceId));
  }

  /** The workflow's cancel signal; hold it for as long as work of the workflow runs here. */
  hold(traceId: string): CancelHold {
    const watched = this.#watched.get(traceId) ?? this.#watch(traceId);
    watched.holders += 1;
    let released = false;
    return {
      signal: watched.controller.signal,
      release: () => {
        if (released) return;
        released = true;
        watched.holders -= 1;
        if (watched.holders > 0 || this.#watched.get(traceId) !== watched) return;
        this.#watched.delete(traceId);
        watched.stop();
      },
    };
  }

  /** Workflows watched here (for leak checks). */
  get watchedCount(): number {
    return this.#watched.size;
  }

  #watch(traceId: string): Watched {
    const controller = new AbortController();
    const stop = this.#options.shared ? this.#listen(traceId, controller) : () => undefined;
    const watched: Watched = { controller, stop, holders: 0 };
    this.#watched.set(traceId, watched);
    return watched;
  }

  #listen(traceId: string, controller: AbortController): () => void {
    // No stream: the workflow's last event passes every filter, and nothing else is wanted.
    return this.#options.log.push(
      traceId,
      { after: null, streams: [], observed: false },
      {
        event: (event) => {
          if (event.kind === 'cancelled') controller.abort(new WorkflowCancelled(traceId));
        },
        // Finished, or lost: nothing will cancel it any more.
        end: () => undefined,
      },
    );
  }
}
