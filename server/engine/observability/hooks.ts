/**
 * What the engine reports to observability. The engine holds these small
 * interfaces (absent means nothing is recorded); their implementations keep
 * the per-event cost to a few plain increments, with no allocation.
 */
import type { StoredEvent } from '../streams/storage.js';

export type StreamObserver = {
  /** An event handed to a subscriber; `live` is false for history replay. */
  readonly delivered: (event: StoredEvent, live: boolean) => void;
  /** A subscription opened or closed that holds no storage listener of its own (shared group delivery). */
  readonly subscribed?: (stream: string) => void;
  readonly unsubscribed?: (stream: string) => void;
};

/**
 * Ends a step attempt: `null` when it succeeded, its error when it failed;
 * `interrupted` when the service's shutdown stopped it (not a failure).
 */
export type AttemptEnd = (error: unknown, interrupted?: boolean) => void;

export type StepObserver = {
  readonly attemptStarted: (traceId: string, step: string, attempt: number) => AttemptEnd;
};

export type WorkflowObserver = {
  /** A running workflow's state is gone from storage: it will never finish. */
  readonly lost: (traceId: string, flow: string) => void;
};
