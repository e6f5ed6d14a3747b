import type { TopicMap } from '../bus/topics.js';
import type { Logger } from '../log.js';
import { assertName, type AllowedName } from '../names.js';
import type { CheckedStreams, StreamData, StreamMap, StreamsOf } from '../streams/define-stream.js';
import type { StepDefinition } from './define-step.js';

/** One write to one of the workflow's streams, typed by that stream. */
export type StreamWrite<TStreams extends StreamMap> = {
  [K in keyof TStreams & string]: {
    readonly stream: K;
    readonly itemId: string;
    readonly data: StreamData<TStreams[K]>;
  };
}[keyof TStreams & string];

/** The workflow's final event: on one of its streams, item `workflow`, kind `finished`. */
export type FinalEvent<TStreams extends StreamMap> = {
  [K in keyof TStreams & string]: { readonly stream: K; readonly data: StreamData<TStreams[K]> };
}[keyof TStreams & string];

/**
 * Why a workflow ends:
 * - `completed`: every step finished, succeeded or dead (`failedSteps` of them dead);
 * - `stopped`: it ran past WORKFLOW_MAX_RUNTIME_MS; the steps it still waited for count as failed;
 * - `lost`: storage no longer has its state (Redis restarted without its data);
 * - `cancelled`: `workflows.cancel` ended it; its final event is written with
 *   kind `cancelled` (running steps were aborted, waits ended).
 */
export type WorkflowEnd =
  | {
      readonly reason: 'completed';
      readonly failedSteps: number;
      readonly outcomes: Readonly<Record<string, 'succeeded' | 'dead'>>;
    }
  | {
      readonly reason: 'stopped';
      /** Titles of the steps that did not finish. */
      readonly unfinished: readonly string[];
      readonly afterMs: number;
    }
  | { readonly reason: 'lost' }
  | { readonly reason: 'cancelled' };

export type FinishContext<TServices, TStreams extends StreamMap> = {
  readonly traceId: string;
  /** What the workflow is about, as given when it started ("Max"). */
  readonly subject: string;
  readonly end: WorkflowEnd;
  readonly services: TServices;
  /** The workflow's streams (writes here are not idempotent: `finish` runs once). */
  readonly streams: StreamsOf<TStreams>;
  readonly logger: Logger;
};

export type StepFailedContext = {
  readonly traceId: string;
  readonly subject: string;
  readonly step: { readonly name: string; readonly title: string };
};

/** A workflow, as the engine runs it. */
export type WorkflowDefinition<
  TServices,
  TKind extends string = string,
  TStreams extends StreamMap = StreamMap,
  TTopics extends TopicMap = TopicMap,
  TStarts extends string = string,
> = {
  readonly kind: TKind;
  readonly title: string;
  readonly streams: TStreams;
  readonly topics: TTopics;
  /** The topics the workflow may be started with (`run.emit`). */
  readonly starts: readonly TStarts[];
  readonly steps: readonly StepDefinition<TServices>[];
  /** The event written for a step that ended dead (every attempt failed); none when null. */
  stepFailed(context: StepFailedContext): StreamWrite<TStreams> | null;
  /**
   * Runs once when the workflow ends (the first instance to see it end) and
   * returns its final event. It may use the services: a workflow that
   * decides something when its steps are done decides it here.
   */
  finish(context: FinishContext<TServices, TStreams>): FinalEvent<TStreams> | Promise<FinalEvent<TStreams>>;
};

/** Any workflow of an application with these services. */
export type AnyWorkflow<TServices> = WorkflowDefinition<TServices>;

/** The step whose streams are not all the workflow's, as the error tsc shows. */
type StepOutsideWorkflow<TName extends string> = {
  readonly error: `the step writes a stream its workflow does not name`;
  readonly step: TName;
};

/** Each step's streams must be streams of the workflow, under the same definitions. */
export type CheckedSteps<TSteps extends readonly StepDefinition<unknown>[], TStreams extends StreamMap> = {
  readonly [I in keyof TSteps]: TSteps[I] extends StepDefinition<unknown, infer TStepStreams>
    ? Exclude<keyof TStepStreams, keyof TStreams> extends never
      ? {
          [K in keyof TStepStreams]: TStepStreams[K] extends TStreams[K & keyof TStreams] ? true : false;
        }[keyof TStepStreams] extends true
        ? TSteps[I]
        : StepOutsideWorkflow<TSteps[I]['name']>
      : StepOutsideWorkflow<TSteps[I]['name']>
    : TSteps[I];
};

/** What `defineWorkflow` takes. */
export type WorkflowDeclaration<
  TServices,
  TKind extends string,
  TStreams extends StreamMap,
  TSteps extends readonly StepDefinition<TServices>[],
  TTopics extends TopicMap,
  TStarts extends keyof TTopics & string,
> = {
  /** Names the workflow kind: tokens are scoped to it; letters and digits, not tRPC-reserved. */
  readonly kind: AllowedName<TKind>;
  readonly title: string;
  /** The workflow's streams, each under its own name: one ordered log across them all. */
  readonly streams: TStreams & CheckedStreams<TStreams>;
  /** The topics it is started with, and `starts`, the ones the starter may emit. */
  readonly topics?: TTopics;
  readonly starts?: readonly TStarts[];
  /** Its steps: the workflow finishes when every one of them has (succeeded or dead). */
  readonly steps: TSteps & CheckedSteps<TSteps, TStreams>;
  readonly stepFailed?: (context: StepFailedContext) => StreamWrite<TStreams> | null;
  readonly finish: (
    context: FinishContext<TServices, TStreams>,
  ) => FinalEvent<TStreams> | Promise<FinalEvent<TStreams>>;
};

export function defineWorkflowFor<TServices>() {
  return function defineWorkflow<
    const TKind extends string,
    const TStreams extends StreamMap,
    const TSteps extends readonly StepDefinition<TServices>[],
    TTopics extends TopicMap = Record<never, never>,
    const TStarts extends keyof TTopics & string = never,
  >(
    declaration: WorkflowDeclaration<TServices, TKind, TStreams, TSteps, TTopics, TStarts>,
  ): WorkflowDefinition<TServices, TKind, TStreams, TTopics, TStarts> {
    const { kind, title, streams, steps, finish } = declaration;
    assertName('workflow kind', kind);
    const names = Object.keys(streams);
    if (names.length === 0) throw new TypeError(`Workflow \`${kind}\` needs at least one stream`);
    for (const [key, stream] of Object.entries(streams)) {
      if (stream.name !== key) {
        throw new TypeError(
          `Workflow \`${kind}\` files stream \`${stream.name}\` under \`${key}\`; use its own name`,
        );
      }
    }
    const seen = new Set<string>();
    for (const step of steps) {
      if (seen.has(step.name)) throw new TypeError(`Workflow \`${kind}\` lists step \`${step.name}\` twice`);
      seen.add(step.name);
      for (const [name, stream] of Object.entries(step.streams)) {
        if (streams[name] !== stream) {
          throw new TypeError(
            `Step \`${step.name}\` writes stream \`${name}\`, which workflow \`${kind}\` does not name`,
          );
        }
      }
    }
    const topics = (declaration.topics ?? {}) as TTopics;
    const starts = declaration.starts ?? [];
    for (const topic of starts) {
      if (!Object.hasOwn(topics, topic)) {
        throw new TypeError(
          `Workflow \`${kind}\` starts with topic \`${topic}\`, which its topics do not define`,
        );
      }
    }
    const stepFailed = declaration.stepFailed ?? (() => null);
    return {
      kind,
      title,
      streams,
      topics,
      starts,
      steps,
      stepFailed: (context) => stepFailed(context),
      finish: (context) => finish(context),
    };
  };
}
