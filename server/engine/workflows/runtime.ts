import { randomBytes } from 'node:crypto';

import type { TraceId } from '../../../shared/trace-id.js';
import type { EventBus } from '../bus/event-bus.js';
import type { TopicMap } from '../bus/topics.js';
import { workflowLogger, type Logger } from '../log.js';
import type { WorkflowTracing } from '../observability/hooks.js';
import type { StreamTokens } from '../security/stream-tokens.js';
import type { StreamMap, StreamsOf } from '../streams/define-stream.js';
import type { WorkflowLog } from '../streams/workflow-log.js';
import type { Emit } from './define-step.js';
import type { AnyWorkflow, WorkflowDefinition } from './define-workflow.js';
import type { WorkflowRegistry } from './registry.js';
import type { WorkflowState } from './store.js';
import type { CancelHold, CancelSignals } from './cancellation.js';
import type { CancelHook, CancelResult, WorkflowTracker } from './tracker.js';

/** A started workflow, as the procedure that started it sees it. */
export type WorkflowRun<TStreams extends StreamMap, TTopics extends TopicMap, TStarts extends string> = {
  /** 128 random bits as 32 hex characters; names the workflow everywhere (log, trace, stream). */
  readonly traceId: TraceId;
  /** Opens this workflow, and only this one, on its kind's subscriptions and on `workflows.onUpdate`. */
  readonly streamToken: string;
  /** Lines carry the trace id; they join the workflow's trace. */
  readonly logger: Logger;
  /** The workflow's streams, for the starter's own first events. */
  readonly streams: StreamsOf<TStreams>;
  /** Publishes one of the workflow's `starts` topics with the trace id. */
  readonly emit: Emit<TTopics, TStarts & keyof TTopics & string>;
};

/** The run type of a workflow definition. */
export type RunOf<TWorkflow> =
  TWorkflow extends WorkflowDefinition<never, string, infer TStreams, infer TTopics, infer TStarts>
    ? WorkflowRun<TStreams, TTopics, TStarts>
    : never;

export type WorkflowRuntimeOptions<TServices> = {
  readonly registry: WorkflowRegistry<TServices>;
  readonly tracker: WorkflowTracker<TServices>;
  readonly log: WorkflowLog;
  readonly bus: EventBus;
  readonly tokens: StreamTokens;
  readonly cancelSignals: CancelSignals;
  readonly logger: Logger;
  /** Told of each start: the call starting it becomes the root span of its trace. */
  readonly tracing?: WorkflowTracing | null;
};

/** A fresh trace id: 128 random bits, 32 hex characters. */
export function newTraceId(): TraceId {
  return randomBytes(16).toString('hex') as TraceId;
}

/** Creates the `emit` of a step or starter: trace id attached, only the topics it declares. */
export function createEmit(
  bus: EventBus,
  traceId: string,
  allowed: readonly string[],
  owner: string,
): (topic: string, data: unknown) => Promise<void> {
  return async (topic, data) => {
    if (!allowed.includes(topic)) throw new Error(`${owner} does not declare that it emits ${topic}`);
    await bus.publish(topic, data, { traceId });
  };
}

/** Starts workflows and answers about them: what procedures use. */
export class WorkflowRuntime<TServices> {
  readonly #options: WorkflowRuntimeOptions<TServices>;

  constructor(options: WorkflowRuntimeOptions<TServices>) {
    this.#options = options;
  }

  get registry(): WorkflowRegistry<TServices> {
    return this.#options.registry;
  }

  /**
   * Registers a new workflow of this kind (before anything is published,
   * so no step can finish unseen) and hands the starter its trace id,
   * token, streams and `emit`. `subject` names what it is about ("Max").
   */
  async start<TWorkflow extends AnyWorkflow<TServices>>(
    workflow: TWorkflow,
    { subject, starter }: { readonly subject: string; readonly starter: string },
  ): Promise<RunOf<TWorkflow>> {
    const { registry, tracker, log, bus, tokens, logger } = this.#options;
    if (!registry.has(workflow)) {
      throw new TypeError(`Workflow \`${workflow.kind}\` is not in the application's manifest`);
    }
    // The registered definition of the kind runs (the manifest may wrap a workflow's steps).
    const registered = registry.get(workflow.kind);
    const traceId = newTraceId();
    this.#options.tracing?.workflowStarted(traceId, registered.kind);
    await tracker.start(registered, traceId, subject);
    const run: WorkflowRun<StreamMap, TopicMap, string> = {
      traceId,
      streamToken: tokens.issue(workflow.kind, traceId),
      logger: workflowLogger(logger, traceId, starter),
      streams: log.streams(registered.streams),
      emit: createEmit(bus, traceId, registered.starts, starter),
    };
    // The run is built from this very definition: the cast restates its types.
    return run as RunOf<TWorkflow>;
  }

  /** Running workflows this process started and watches. */
  get watchedCount(): number {
    return this.#options.tracker.watchedCount;
  }

  /** The workflow's state, or null when it is unknown or its retention has passed. */
  get(traceId: string): Promise<WorkflowState | null> {
    return this.#options.tracker.get(traceId);
  }

  /** Cancels a running workflow (see WorkflowTracker.cancel). */
  cancel(traceId: string): Promise<CancelResult> {
    return this.#options.tracker.cancel(traceId);
  }

  /**
   * The workflow's cancel signal, for work of the workflow that runs outside
   * a step attempt (a wait, say): it aborts, with a WorkflowCancelled reason,
   * when the workflow is cancelled on any instance. Release it when done.
   */
  cancelSignal(traceId: string): CancelHold {
    return this.#options.cancelSignals.hold(traceId);
  }

  /** Runs `hook` on every cancel made on this instance (see CancelHook). Returns the function that removes it. */
  onCancel(hook: CancelHook): () => void {
    return this.#options.tracker.onCancel(hook);
  }

  /** Resolves once the workflow's final event is written, on whichever instance. */
  onFinished(traceId: string): Promise<WorkflowState> {
    return this.#options.tracker.onFinished(traceId);
  }
}
