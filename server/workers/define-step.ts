import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ProfileGenerator } from '../ai/profile-generator.js';
import type { Topic, TopicPayload } from '../bus/topics.js';
import { parsePayload } from '../bus/topics.js';
import type { Streams } from '../streams/registry.js';
import type { PetStore } from '../store/pet-store.js';

/** Publishes to the bus with the current trace id; only topics the step declares. */
export type Emit<TTopics extends Topic> = <TTopic extends TTopics>(
  topic: TTopic,
  data: TopicPayload<TTopic>,
) => Promise<void>;

/** What steps may use besides the workflow context. */
export type StepServices = {
  readonly pets: PetStore;
  /** Null when no model is configured: steps use their fallback. */
  readonly profiles: ProfileGenerator | null;
  readonly config: Config;
};

/** What every step handler (and the API) receives. */
export type StepContext<TEmits extends Topic> = StepServices & {
  readonly traceId: string;
  readonly logger: Logger;
  readonly streams: Streams;
  readonly emit: Emit<TEmits>;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborted when the attempt times out or the service shuts down. */
  readonly signal: AbortSignal;
};

type StepDeclaration<TTopic extends Topic, TEmits extends Topic> = {
  /** Unique; names the step in logs, traces and dead letters. */
  readonly name: string;
  /** Human title for stream messages ("Feeding reminder"). */
  readonly title: string;
  readonly subscribes: TTopic;
  readonly emits: readonly TEmits[];
  /** Workflows this step is part of: a workflow finishes when all its steps have. */
  readonly flows: readonly string[];
  readonly handler: (input: TopicPayload<TTopic>, ctx: StepContext<TEmits>) => Promise<void>;
};

/** A declared step, with its payload type erased for the runner. */
export type Step = Omit<StepDeclaration<Topic, Topic>, 'handler'> & {
  readonly handle: (data: unknown, ctx: StepContext<Topic>) => Promise<void>;
};

/**
 * Declares a step: the topic it handles, the topics it may emit and its
 * handler. Payloads are validated against the topic's schema before the
 * handler sees them.
 */
export function defineStep<TTopic extends Topic, const TEmits extends Topic = never>(
  declaration: StepDeclaration<TTopic, TEmits>,
): Step {
  const { handler, ...meta } = declaration;
  return {
    ...meta,
    handle: (data, ctx) => handler(parsePayload(meta.subscribes, data), ctx),
  };
}
