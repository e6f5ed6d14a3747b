/**
 * The engine's public entry: everything an application uses, and nothing
 * it should not. An application defines its streams, topics, steps and
 * workflows with these, mounts their subscriptions in its router, and
 * hands the engine its manifest (`defineApplication`).
 *
 * @example
 * const progress = defineStream({ name: 'adoptionProgress', schema: ProgressSchema });
 * const topics = defineTopics({ 'adoption.submitted': z.object({ applicationId: z.string() }) });
 * const check = defineStep({ name: 'BackgroundCheck', title: 'Background check', topics,
 *   subscribes: 'adoption.submitted', streams: { adoptionProgress: progress },
 *   async handler({ applicationId }, { streams, traceId }) {
 *     await streams.adoptionProgress.set(traceId, 'check', { message: 'Checking', stage: 'check', progress: 50 });
 *   } });
 * export const adoption = defineWorkflow({ kind: 'adoption', title: 'Adoption',
 *   streams: { adoptionProgress: progress }, topics, starts: ['adoption.submitted'], steps: [check],
 *   finish: ({ subject }) => ({ stream: 'adoptionProgress', data: { message: `Done for ${subject}`, stage: 'decision', progress: 100 } }) });
 */
import type { ApplicationServices } from './application.js';
import { createWorkflowKit } from './workflows/kit.js';

export {
  defineApplication,
  type Application,
  type ApplicationServices,
  type RouteEnvironment,
  type ServiceEnvironment,
} from './application.js';
export { defineTopics, type TopicMap } from './bus/topics.js';
export {
  defineStream,
  type StreamDefinition,
  type StreamEventOf,
  type StreamsOf,
} from './streams/define-stream.js';
export type { StepContext, StepDefinition } from './workflows/define-step.js';
export type {
  FinishContext,
  StepFailedContext,
  WorkflowDefinition,
  WorkflowEnd,
} from './workflows/define-workflow.js';
export type { WorkflowRun } from './workflows/runtime.js';
export { WorkflowCancelled, type CancelHold } from './workflows/cancellation.js';
export type { CancelHook, CancelResult } from './workflows/tracker.js';
export type { WorkflowState } from './workflows/store.js';
export { TRPC_RESERVED_NAMES } from './names.js';

/** Steps and workflows of the application, typed by its services (see ApplicationServices). */
export const { defineStep, defineWorkflow } = createWorkflowKit<ApplicationServices>();

// Procedures and routers: the engine's one tRPC instance.
export {
  createCallerFactory,
  limitStarts,
  middleware,
  mutationProcedure,
  operatorProcedure,
  publicProcedure,
  readProcedure,
  router,
  subscriptionProcedure,
} from './transport/trpc.js';
export type { Context } from './transport/context.js';
export {
  workflowSubscription,
  workflowsRouter,
  WorkflowWatchInput,
} from './transport/workflow-procedures.js';
export { systemRouter } from './transport/system-router.js';
export { tracesRouter } from './transport/traces-router.js';
export type { DataView } from './security/access.js';

// Plain HTTP routes.
export type { HttpRoute } from './transport/http-routes.js';
export { sendJson } from './transport/http-routes.js';
export {
  HttpError,
  pathParam,
  readJsonBody,
  requestContext,
  restHandler,
  workflowSseRoute,
} from './transport/rest.js';

// For application stores on the engine's Redis.
export { RedisScript } from './backends/redis/script.js';
export { pairsToRecord, throwFirstError } from './backends/redis/replies.js';
export { StorageUnavailable, whileReachable } from './backends/redis/storage-unavailable.js';

// Running it.
export { loadConfig, ConfigError, type Config } from './config.js';
export { createLogger, type Logger } from './log.js';
export { LogSink } from './log-sink.js';
export { timeoutSignal } from './timeout-signal.js';
export { createServer, type Server } from './create-server.js';
export { createEngine, type Engine } from './create-engine.js';
