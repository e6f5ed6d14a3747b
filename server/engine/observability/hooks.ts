/**
 * What the engine reports to observability. The engine holds these small
 * interfaces (absent means nothing is recorded); their implementations keep
 * the per-event cost to a few plain increments, with no allocation.
 */
import type { DeadLetter } from '../bus/event-bus.js';
import type { BusMessage, TraceCarrier } from '../bus/topics.js';
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

/** One step attempt, as its span names it. */
export type TracedAttempt = {
  readonly step: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Asked once the attempt failed: whether the service's shutdown stopped it (not a failure). */
  readonly interrupted: () => boolean;
};

/**
 * Spans of workflows, when trace export is configured (otherwise the
 * engine holds none and pays nothing). Each workflow is one trace whose id
 * is the workflow's trace id; what the engine does on the way is reported
 * to the span that is current where it happens.
 */
export type WorkflowTracing = {
  /** Runs one API call (query or mutation); a workflow it starts makes it the root span of its trace. */
  readonly call: <T extends { readonly ok: boolean }>(name: string, run: () => Promise<T>) => Promise<T>;
  /** A workflow was registered under `traceId` (in the current call, if any). */
  readonly workflowStarted: (traceId: string, kind: string) => void;
  /**
   * Runs one step attempt in its span, the child of the span that published its message.
   */
  readonly attempt: <T>(message: BusMessage, attempt: TracedAttempt, run: () => Promise<T>) => Promise<T>;
  /**
   * Runs the report that a step gave up on a message (every attempt failed)
   * in a span of its own, beside the attempts' spans.
   */
  readonly givenUp: <T>(letter: DeadLetter, run: () => Promise<T>) => Promise<T>;
  /** A message is published: an event of the current span, whose context the message then carries. */
  readonly published: (traceId: string, topic: string) => TraceCarrier | undefined;
  /** An event was written to a workflow's log: an event of the current span. */
  readonly written: (event: StoredEvent) => void;
  /** Sends what has ended and stops exporting. */
  readonly close: () => Promise<void>;
};
