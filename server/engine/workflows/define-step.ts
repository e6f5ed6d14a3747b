import type { z } from 'zod';

import type { TopicInput, TopicMap, TopicPayload } from '../bus/topics.js';
import type { Logger } from '../log.js';
import { assertName, type AllowedName } from '../names.js';
import type { CheckedStreams, Stream, StreamMap, StreamsOf } from '../streams/define-stream.js';
import type { WaitOptions, WaitResult } from '../waits/wait-for.js';
import type { StreamWrite } from './define-workflow.js';

/**
 * Waits for an input from a person (or any caller of a procedure): see
 * `StepContext.waitFor`. The name is unique within the workflow run.
 */
export type WaitFor<TAnnounce> = <TSchema extends z.ZodType>(
  name: string,
  schema: TSchema,
  options: WaitOptions<TAnnounce>,
) => Promise<WaitResult<z.output<TSchema>>>;

/** Publishes to the bus with the current trace id; only the topics declared, each payload checked. */
export type Emit<TTopics extends TopicMap, TEmits extends keyof TTopics & string> = <TTopic extends TEmits>(
  topic: TTopic,
  data: TopicInput<TTopics, TTopic>,
) => Promise<void>;

/** What a step handler receives besides its payload. */
export type StepContext<
  TServices,
  TTopics extends TopicMap,
  TEmits extends keyof TTopics & string,
  TStreams extends StreamMap,
> = {
  readonly traceId: string;
  /** Lines carry the trace id and the step's name, and join the workflow's trace. */
  readonly logger: Logger;
  /** The streams the step declares; each write is idempotent across retries of the same message. */
  readonly streams: StreamsOf<TStreams>;
  readonly emit: Emit<TTopics, TEmits>;
  /** The application's services (writes refused once the attempt is aborted, when the application fences them). */
  readonly services: TServices;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /**
   * Aborted when the attempt times out, the service shuts down, or the
   * workflow is cancelled (its reason is then a WorkflowCancelled).
   */
  readonly signal: AbortSignal;
  /**
   * Waits for an input that arrives through a procedure (`ctx.waits.answer`),
   * or for `timeoutMs` to pass. The wait is stored, then announced by the
   * `announce` write, and the attempt ends: nothing runs or is held while
   * it waits, on this instance or any. When it ends, the step runs again
   * from its start (its stream writes are not repeated: they are
   * idempotent) and `waitFor` returns the input, or `timedOut`. What the
   * step does before it must therefore be safe to repeat.
   */
  readonly waitFor: WaitFor<StreamWrite<TStreams>>;
};

/** What `defineStep` takes. */
export type StepDeclaration<
  TServices,
  TName extends string,
  TTopics extends TopicMap,
  TSubscribes extends keyof TTopics & string,
  TEmits extends keyof TTopics & string,
  TStreams extends StreamMap,
> = {
  /** Unique in the application; names the step in logs, traces, queues and dead letters. */
  readonly name: AllowedName<TName>;
  /** Human title for stream messages ("Feeding reminder"). */
  readonly title: string;
  /** The topics the step subscribes to and emits are taken from. */
  readonly topics: TTopics;
  readonly subscribes: TSubscribes;
  /** The topics it may emit (none when absent). */
  readonly emits?: readonly TEmits[];
  /** The streams the step writes, each under its own name; all must be streams of its workflow. */
  readonly streams: TStreams & CheckedStreams<TStreams>;
  readonly handler: (
    input: TopicPayload<TTopics, TSubscribes>,
    ctx: StepContext<TServices, TTopics, TEmits, TStreams>,
  ) => Promise<void>;
};

/** What the step runner gives a step: the typed context with its types erased. */
export type StepRunContext<TServices> = {
  readonly traceId: string;
  readonly logger: Logger;
  readonly streams: Readonly<Record<string, Stream<unknown>>>;
  readonly emit: (topic: string, data: unknown) => Promise<void>;
  readonly services: TServices;
  readonly attempt: number;
  readonly signal: AbortSignal;
  readonly waitFor: WaitFor<{ readonly stream: string; readonly itemId: string; readonly data: unknown }>;
};

/** A defined step: its declaration's types are kept for its workflow to check; the runner calls `handle`. */
export type StepDefinition<TServices, TStreams extends StreamMap = StreamMap> = {
  readonly name: string;
  readonly title: string;
  readonly topics: TopicMap;
  readonly subscribes: string;
  readonly emits: readonly string[];
  readonly streams: TStreams;
  /** Parses the payload with the topic's schema, then runs the handler. */
  handle(data: unknown, ctx: StepRunContext<TServices>): Promise<void>;
};

/** Checks a declaration at definition time: its name, and topics that exist. */
export function defineStepFor<TServices>() {
  return function defineStep<
    const TName extends string,
    TTopics extends TopicMap,
    TSubscribes extends keyof TTopics & string,
    const TEmits extends keyof TTopics & string = never,
    const TStreams extends StreamMap = Record<never, never>,
  >(
    declaration: StepDeclaration<TServices, TName, TTopics, TSubscribes, TEmits, TStreams>,
  ): StepDefinition<TServices, TStreams> {
    const { name, title, topics, subscribes, streams, handler } = declaration;
    const emits = declaration.emits ?? [];
    assertName('step name', name);
    for (const topic of [subscribes, ...emits]) {
      if (!Object.hasOwn(topics, topic)) {
        throw new TypeError(`Step \`${name}\` names topic \`${topic}\`, which its topics do not define`);
      }
    }
    for (const [key, stream] of Object.entries(streams)) {
      if (stream.name !== key) {
        throw new TypeError(
          `Step \`${name}\` files stream \`${stream.name}\` under \`${key}\`; use its own name`,
        );
      }
    }
    const schema = topics[subscribes];
    return {
      name,
      title,
      topics,
      subscribes,
      emits,
      streams,
      handle: (data, ctx) =>
        // The runner builds `streams` from this step's own definitions and
        // `emit` from its own topics: the casts restate the declaration.
        handler(schema?.parse(data) as TopicPayload<TTopics, TSubscribes>, {
          ...ctx,
          streams: ctx.streams as unknown as StreamsOf<TStreams>,
          emit: ctx.emit,
        }),
    };
  };
}
